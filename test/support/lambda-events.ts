import type {
  APIGatewayProxyEventV2WithIAMAuthorizer,
  APIGatewayProxyWebsocketEventV2,
  APIGatewayRequestAuthorizerEvent,
  Context,
} from 'aws-lambda';

/** Where a WebSocket client comes from, as API Gateway tells every route's handler. */
export interface ClientOrigin {
  readonly sourceIp?: string;
  /** The browser's Origin header on the handshake; other clients send none. */
  readonly origin?: string;
}

const API_ID = 'abc123';
const STAGE = 'dev';
const DOMAIN = `${API_ID}.execute-api.us-east-1.amazonaws.com`;

/** The ARN of the API's `$connect` route, which an authorizer's policy allows or denies. */
export const CONNECT_ROUTE_ARN = `arn:aws:execute-api:us-east-1:123456789012:${API_ID}/${STAGE}/$connect`;

let requests = 0;

function requestContext(
  connectionId: string,
  eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT',
  routeKey: string,
  sourceIp: string,
): APIGatewayProxyWebsocketEventV2['requestContext'] {
  requests += 1;
  const context = {
    routeKey,
    eventType,
    connectionId,
    messageId: `msg-${requests}`,
    extendedRequestId: `ext-${requests}`,
    requestTime: '01/Jan/2030:00:00:00 +0000',
    messageDirection: 'IN' as const,
    stage: STAGE,
    connectedAt: Date.now(),
    requestTimeEpoch: Date.now(),
    requestId: `req-${requests}`,
    domainName: DOMAIN,
    apiId: API_ID,
    // API Gateway sends the client's address on every route; the type in @types/aws-lambda omits it.
    identity: { sourceIp, userAgent: 'test-client' },
  };
  return context;
}

/**
 * A `$connect` event as API Gateway sends it: the handshake's query string, its headers, and, when an
 * authorizer allowed the handshake, the context the authorizer returned.
 */
export function connectEvent(
  connectionId: string,
  options: ClientOrigin & { query?: Record<string, string>; authorizer?: Record<string, string> } = {},
): APIGatewayProxyWebsocketEventV2 {
  const sourceIp = options.sourceIp ?? '198.51.100.7';
  const base = requestContext(connectionId, 'CONNECT', '$connect', sourceIp);
  return {
    requestContext: options.authorizer === undefined ? base : { ...base, ...{ authorizer: options.authorizer } },
    isBase64Encoded: false,
    ...{
      headers: {
        Host: DOMAIN,
        'Sec-WebSocket-Version': '13',
        'X-Forwarded-For': sourceIp,
        ...(options.origin === undefined ? {} : { Origin: options.origin }),
      },
    },
    ...(options.query === undefined ? {} : { queryStringParameters: options.query }),
  };
}

/** A `$disconnect` event: API Gateway sends one when a connection closes, from either side. */
export function disconnectEvent(connectionId: string, options: ClientOrigin = {}): APIGatewayProxyWebsocketEventV2 {
  return {
    requestContext: requestContext(connectionId, 'DISCONNECT', '$disconnect', options.sourceIp ?? '198.51.100.7'),
    isBase64Encoded: false,
  };
}

/**
 * A frame from a client, on the route its JSON `action` selects (`$default` otherwise, or the `routeKey`
 * given, for a text frame that names its action); binary frames arrive base64-encoded.
 */
export function frameEvent(
  connectionId: string,
  frame: string | Uint8Array | Record<string, unknown>,
  options: ClientOrigin & { routeKey?: string } = {},
): APIGatewayProxyWebsocketEventV2 {
  const binary = frame instanceof Uint8Array;
  const body = binary
    ? Buffer.from(frame).toString('base64')
    : typeof frame === 'string'
      ? frame
      : JSON.stringify(frame);
  const action = !binary && typeof frame === 'object' ? frame['action'] : undefined;
  const routeKey = options.routeKey ?? (typeof action === 'string' ? action : '$default');
  return {
    requestContext: requestContext(connectionId, 'MESSAGE', routeKey, options.sourceIp ?? '198.51.100.7'),
    body,
    isBase64Encoded: binary,
  };
}

/** The REQUEST authorizer's event for a `$connect` handshake, with `?token=` when given. */
export function authorizerEvent(query: Record<string, string> | null): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: CONNECT_ROUTE_ARN,
    resource: '$connect',
    path: '',
    httpMethod: 'GET',
    headers: { Host: DOMAIN },
    multiValueHeaders: { Host: [DOMAIN] },
    pathParameters: null,
    queryStringParameters: query,
    multiValueQueryStringParameters:
      query === null ? null : Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])),
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: API_ID,
      authorizer: undefined,
      protocol: 'HTTP/1.1',
      httpMethod: 'GET',
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: 'o-example',
        sourceIp: '198.51.100.7',
        user: null,
        userAgent: 'test-client',
        userArn: null,
      },
      path: '',
      stage: STAGE,
      requestId: 'req-authorizer',
      requestTimeEpoch: Date.now(),
      resourceId: '$connect',
      resourcePath: '$connect',
    },
  };
}

/** The IAM principal a publish API request is signed by, by default. */
export const PUBLISHER_ARN = 'arn:aws:sts::123456789012:assumed-role/deployer/ci-run-1';

/**
 * A request of the publish API as API Gateway's HTTP API (payload 2.0) sends it behind its IAM authorizer: `route`
 * is the route's key (`POST /rooms/{room}/messages`), `path` the request's. `caller: null` leaves the IAM identity
 * empty, as for a route without the authorizer.
 */
export function httpApiEvent(
  route: string,
  path: string,
  options: {
    body?: unknown;
    query?: Record<string, string>;
    caller?: string | null;
    headers?: Record<string, string>;
  } = {},
): APIGatewayProxyEventV2WithIAMAuthorizer {
  requests += 1;
  const [method = 'GET'] = route.split(' ');
  const room = /^\/rooms\/([^/]+)/.exec(path)?.[1];
  const caller = options.caller === undefined ? PUBLISHER_ARN : options.caller;
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  const iam = {
    accessKey: 'AKIAEXAMPLE',
    accountId: '123456789012',
    callerId: 'AROAEXAMPLE:ci-run-1',
    cognitoIdentity: null,
    principalOrgId: 'o-example',
    userArn: caller ?? '',
    userId: 'AROAEXAMPLE:ci-run-1',
  };
  return {
    version: '2.0',
    routeKey: route,
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: { 'content-type': 'application/json', ...options.headers },
    ...(options.query === undefined ? {} : { queryStringParameters: options.query }),
    ...(room === undefined ? {} : { pathParameters: { room: decodeURIComponent(room) } }),
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'http123',
      domainName: 'http123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'http123',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '198.51.100.20', userAgent: 'aws-sdk-js' },
      requestId: `http-req-${requests}`,
      routeKey: route,
      stage: '$default',
      time: '01/Jan/2030:00:00:00 +0000',
      timeEpoch: Date.now(),
      authorizer: { iam },
    },
  };
}

/** A Lambda context for the function `ws-chat-dev-<name>`. */
export function lambdaContext(name: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `ws-chat-${STAGE}-${name}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:ws-chat-${STAGE}-${name}`,
    memoryLimitInMB: '512',
    awsRequestId: `aws-req-${name}`,
    logGroupName: `/aws/lambda/ws-chat-${STAGE}-${name}`,
    logStreamName: '2030/01/01/[$LATEST]abc',
    getRemainingTimeInMillis: () => 29_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
