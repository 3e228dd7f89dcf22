/**
 * API Gateway's IAM authorizer for the local stack's HTTP API routes (serverless.yml's `httpApi` events with
 * `authorizer: type: aws_iam`), which serverless-offline does not support: it would serve every request, signed or
 * not, and tell the function nothing of its caller. Here each such route's handler is wrapped, as the @connections
 * routes are (connections-check.ts), to do what API Gateway does first: check the request's SigV4 signature against
 * the caller's secret, judge `execute-api:Invoke` on the route's ARN against the caller's policy, refuse with a 403
 * when either fails, and otherwise hand the function the caller's identity as `requestContext.authorizer.iam`.
 *
 * The local callers: the publisher key ({@link PUBLISHER_ACCESS_KEY}), whose policy is the template's
 * PublisherPolicy, the one its README tells callers to attach; and each function's own key, with its role (none of
 * which allows the call). Every local secret is {@link LOCAL_SECRET}.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { KeyedSha256 } from '../../src/handlers/wiring/keyed-sha256.ts';
import type { HapiToolkit } from './connections-check.ts';
import { evaluate, PSEUDO_PARAMETERS, type Resources, RolePolicy } from './policy.ts';

/** The access key `npm run publish` and the tests sign with against the local stack. */
export const PUBLISHER_ACCESS_KEY = 'LOCALPUBLISHER';
/** The secret of every local access key. */
export const LOCAL_SECRET = 'local';
/** The template's managed policy that callers of the publish API attach to their roles. */
export const PUBLISHER_POLICY = 'PublisherPolicy';

/** Who signs with an access key, as API Gateway tells the function: the principal's ARN and its policy. */
export interface HttpCaller {
  readonly userArn: string;
  readonly policy: RolePolicy;
}

/** A route that requires IAM, as the emulator serves it: `POST` and `/rooms/{room}/messages`. */
export interface IamRoute {
  readonly method: string;
  readonly path: string;
}

/** The request as the check reads it. */
export interface SignedRequest {
  readonly method: string;
  /** The path as sent, without the query string. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | string[]>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** What a request that passed carries to its function: API Gateway's `requestContext.authorizer.iam`. */
export interface IamIdentity {
  readonly accessKey: string;
  readonly accountId: string;
  readonly callerId: string;
  readonly cognitoIdentity: null;
  readonly principalOrgId: null;
  readonly userArn: string;
  readonly userId: string;
}

export type HttpCheck = { readonly identity: IamIdentity } | { readonly status: number; readonly message: string };

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,\s]+), ?Signature=([0-9a-f]{64})$/;

/** The local callers: the publisher, by the template's PublisherPolicy, and each function by its role. */
export function localCallers(
  resources: Resources,
  functions: Readonly<Record<string, { readonly key: string; readonly role: string }>>,
): Map<string, HttpCaller> {
  const account = PSEUDO_PARAMETERS['AWS::AccountId'] ?? '123456789012';
  const callers = new Map<string, HttpCaller>();
  if (resources[PUBLISHER_POLICY] !== undefined)
    callers.set(PUBLISHER_ACCESS_KEY, {
      userArn: `arn:aws:sts::${account}:assumed-role/local-publisher/npm-run-publish`,
      policy: new RolePolicy(PUBLISHER_POLICY, resources),
    });
  for (const [name, { key, role }] of Object.entries(functions))
    callers.set(key, {
      userArn: `arn:aws:sts::${account}:assumed-role/${role}/${name}`,
      policy: new RolePolicy(role, resources),
    });
  return callers;
}

const headerValue = (value: string | string[] | undefined): string =>
  (Array.isArray(value) ? value.join(',') : (value ?? '')).trim().replace(/\s+/g, ' ');

/** The signature a request's signed parts give with the caller's secret, as the SDK's signer computes it. */
async function expectedSignature(
  request: SignedRequest,
  key: string,
  date: string,
  region: string,
  service: string,
  signedHeaders: readonly string[],
): Promise<string | undefined> {
  const amzDate = headerValue(request.headers['x-amz-date']);
  const signingDate = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (signingDate === null || !amzDate.startsWith(date)) return undefined;
  const [, year, month, day, hours, minutes, seconds] = signingDate;
  // The signature covers the body's hash as the service computes it, whatever hash the caller claims.
  const claimed = request.headers['x-amz-content-sha256'];
  if (claimed !== undefined && headerValue(claimed) !== createHash('sha256').update(request.body).digest('hex'))
    return undefined;
  const headers = Object.fromEntries(signedHeaders.map((name) => [name, headerValue(request.headers[name])]));
  const host = headers['host'] ?? '';
  const signer = new SignatureV4({
    service,
    region,
    credentials: { accessKeyId: key, secretAccessKey: LOCAL_SECRET },
    sha256: KeyedSha256,
    // Signs what the caller signed, no more: an x-amz-content-sha256 it sent is among its signed headers.
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: host.split(':')[0] ?? host,
      path: request.path,
      query: { ...request.query },
      headers,
      body: request.body.length > 0 ? request.body : undefined,
    },
    {
      signingDate: new Date(`${year}-${month}-${day}T${hours}:${minutes}:${seconds}Z`),
      signableHeaders: new Set(signedHeaders),
    },
  );
  return / Signature=([0-9a-f]{64})$/.exec(String(signed.headers['authorization']))?.[1];
}

/**
 * API Gateway's answer to a request on an IAM route: the caller's identity when its signature holds and its policy
 * allows `execute-api:Invoke` on `resource` (the route's ARN in `Fn::Sub` notation), else a 403 and why.
 */
export async function checkSignedRequest(
  request: SignedRequest,
  resource: string,
  callers: ReadonlyMap<string, HttpCaller>,
  resources: Resources,
): Promise<HttpCheck> {
  const parsed = AUTHORIZATION.exec(headerValue(request.headers['authorization']));
  if (parsed === null) return { status: 403, message: 'Forbidden' };
  const [, key = '', date = '', region = '', service = '', signedHeaderList = '', signature] = parsed;
  const caller = callers.get(key);
  if (caller === undefined) return { status: 403, message: 'The security token included in the request is invalid.' };
  const signedHeaders = signedHeaderList.split(';');
  const expected =
    service === 'execute-api' && signedHeaders.includes('host')
      ? await expectedSignature(request, key, date, region, service, signedHeaders)
      : undefined;
  if (expected === undefined || expected !== signature)
    return {
      status: 403,
      message:
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    };
  const arn = evaluate({ 'Fn::Sub': resource }, resources);
  const decision = caller.policy.decide({ action: 'execute-api:Invoke', resource: arn });
  if (decision !== 'allowed')
    return {
      status: 403,
      message: `User: ${caller.userArn} is not authorized to perform: execute-api:Invoke on resource: ${arn}`,
    };
  const account = PSEUDO_PARAMETERS['AWS::AccountId'] ?? '123456789012';
  const session = caller.userArn.split('/').at(-1) ?? key;
  return {
    identity: {
      accessKey: key,
      accountId: account,
      callerId: `AROALOCAL${key}:${session}`,
      cognitoIdentity: null,
      principalOrgId: null,
      userArn: caller.userArn,
      userId: `AROALOCAL${key}:${session}`,
    },
  };
}

/** The header serverless-offline takes `requestContext.authorizer` from; a caller's own is always dropped. */
const AUTHORIZER_OVERRIDE = 'sls-offline-authorizer-override';

interface HapiRequest {
  readonly method: string;
  readonly path: string;
  readonly url: URL;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly payload?: unknown;
  readonly raw: { readonly req: { rawHeaders: string[] } };
}
interface RouteConfig {
  readonly method?: unknown;
  readonly path?: unknown;
  readonly handler?: unknown;
}
type Handler = (request: HapiRequest, h: HapiToolkit) => unknown;

/** Drops every `sls-offline-authorizer-override` header a caller sent: only this check may set one. */
function withoutOverride(rawHeaders: string[]): string[] {
  const kept: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index] ?? '';
    if (name.toLowerCase() !== AUTHORIZER_OVERRIDE) kept.push(name, rawHeaders[index + 1] ?? '');
  }
  return kept;
}

function queryOf(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const known = query[name];
    query[name] = known === undefined ? value : [known, value].flat();
  }
  return query;
}

/**
 * Wraps the handler of every route in `routes` that the emulator's hapi servers (of `offlineRoot`'s copy of hapi)
 * add from now on: `judge` answers each request first, with the caller's identity or a refusal. `stage` names the
 * HTTP API's stage in the route's ARN (`$default`).
 */
export function checkHttpApiRoutes(
  offlineRoot: string,
  routes: readonly IamRoute[],
  judge: (request: SignedRequest, resource: string) => Promise<HttpCheck>,
): void {
  const hapi = createRequire(join(offlineRoot, 'package.json'))('@hapi/hapi') as {
    server(options: object): object;
  };
  const prototype = Object.getPrototypeOf(hapi.server({ autoListen: false })) as {
    route(this: unknown, options: RouteConfig | RouteConfig[]): unknown;
  };
  const route = prototype.route;
  const requiresIam = (config: RouteConfig): boolean =>
    typeof config.handler === 'function' &&
    routes.some((r) => r.method === String(config.method).toUpperCase() && r.path === config.path);
  const checked = (config: RouteConfig): RouteConfig => {
    const serve = config.handler as Handler;
    const handler: Handler = async (request, h) => {
      request.raw.req.rawHeaders = withoutOverride(request.raw.req.rawHeaders);
      Reflect.deleteProperty(request.headers, AUTHORIZER_OVERRIDE);
      const method = request.method.toUpperCase();
      const verdict = await judge(
        {
          method,
          path: request.url.pathname,
          query: queryOf(request.url),
          headers: request.headers,
          body: Buffer.isBuffer(request.payload) ? request.payload : Buffer.alloc(0),
        },
        `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${HttpApi}/$default/${method}${request.url.pathname}`,
      );
      if ('status' in verdict)
        return h
          .response(JSON.stringify({ message: verdict.message }))
          .code(verdict.status)
          .header('content-type', 'application/json')
          .header('x-amzn-errortype', 'AccessDeniedException');
      // The event's authorizer is read from the raw headers; whether to keep it at all, from the parsed ones.
      const identity = JSON.stringify({ iam: verdict.identity });
      request.raw.req.rawHeaders.push(AUTHORIZER_OVERRIDE, identity);
      request.headers[AUTHORIZER_OVERRIDE] = identity;
      return serve(request, h);
    };
    return { ...config, handler };
  };
  prototype.route = function (this: unknown, options: RouteConfig | RouteConfig[]) {
    return route.call(
      this,
      [options].flat().map((config) => (requiresIam(config) ? checked(config) : config)),
    );
  };
}
