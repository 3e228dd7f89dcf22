import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  createQueues,
  type LocalQueue,
  type LocalSqs,
  localSqsClient,
  startLocalSqs,
} from '../../scripts/local-sqs.ts';
import { connectionsCalls, dynamoDbCalls, sqsCalls } from '../../scripts/local-iam/aws-calls.ts';
import { isolateRuns, type Runner } from '../../scripts/local-iam/function-environments.ts';
import { checkConnectionsRoutes } from '../../scripts/local-iam/connections-check.ts';
import {
  accessKeyIdOf,
  type CheckedService,
  checkRequest,
  IamCheckingProxy,
} from '../../scripts/local-iam/iam-proxy.ts';
import { type Resources, RolePolicy, type Statement } from '../../scripts/local-iam/policy.ts';
import { UsageLog } from '../../scripts/local-iam/usage-log.ts';
import { type DynamoDbTarget, startDynaliteTarget } from '../support/dynamodb.ts';
import { FakeConnectionsApi } from '../support/fake-connections-api.ts';
import { sendRaw, signedBy } from '../support/raw-http.ts';

const REGION = 'us-east-1';
const STAGE = 'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketsApi}/local';

/** A template of the table, the queue and one role made of these statements. */
function template(tableName: string, statements: Statement[]): Resources {
  return {
    ChatTable: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: tableName } },
    FanOutQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'iam-fanout' } },
    WebsocketsApi: { Type: 'AWS::ApiGatewayV2::Api' },
    WorkerRole: {
      Type: 'AWS::IAM::Role',
      Properties: { Policies: [{ PolicyName: 'p', PolicyDocument: { Version: '2012-10-17', Statement: statements } }] },
    },
  };
}

const allow = (action: string, resource: unknown): Statement => ({
  Effect: 'Allow',
  Action: action,
  Resource: resource,
});
const TABLE = { 'Fn::GetAtt': ['ChatTable', 'Arn'] };

describe('the local IAM proxy', () => {
  let dynamodb: DynamoDbTarget;
  let sqs: LocalSqs;
  let queue: LocalQueue;
  let api: FakeConnectionsApi;
  let tableName: string;
  const proxies: IamCheckingProxy[] = [];

  beforeAll(async () => {
    dynamodb = await startDynaliteTarget();
    tableName = await dynamodb.table();
    sqs = await startLocalSqs(0);
    const admin = localSqsClient(sqs.endpoint);
    const made = await createQueues(
      admin,
      [{ logicalId: 'FanOutQueue', properties: { QueueName: 'iam-fanout' } }],
      (id) => id,
    );
    admin.destroy();
    const fanOut = made.get('FanOutQueue');
    if (fanOut === undefined) throw new Error('no queue');
    queue = fanOut;
    api = await new FakeConnectionsApi().start();
    api.live('c-1');
  }, 60_000);

  afterAll(async () => {
    for (const proxy of proxies) await proxy.stop();
    await api.stop();
    await sqs.stop();
    await dynamodb.stop();
  });

  /** A proxy for one service in front of its local endpoint, whose one caller (key WORKER) runs with WorkerRole. */
  async function proxyFor(service: CheckedService, statements: Statement[], usage = new UsageLog()) {
    const resources = template(tableName, statements);
    const targets = { dynamodb: dynamodb.endpoint, sqs: sqs.endpoint, 'execute-api': api.endpoint };
    const decoders = {
      dynamodb: dynamoDbCalls({ [tableName]: '${ChatTable.Arn}' }),
      sqs: sqsCalls({ 'iam-fanout': '${FanOutQueue.Arn}' }),
      'execute-api': connectionsCalls(STAGE),
    };
    const proxy = await new IamCheckingProxy({
      service,
      target: targets[service],
      decode: decoders[service],
      principals: new Map([['WORKER', { functionName: 'fanout', policy: new RolePolicy('WorkerRole', resources) }]]),
      resources,
      usage,
    }).start();
    proxies.push(proxy);
    return proxy;
  }

  const credentials = (accessKeyId = 'WORKER') => ({ accessKeyId, secretAccessKey: 'local' });
  const tableClient = (endpoint: string, accessKeyId?: string) =>
    DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint, region: REGION, credentials: credentials(accessKeyId), maxAttempts: 1 }),
    );
  const failureOf = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error as { name: string; message: string; $metadata?: { httpStatusCode?: number } },
    );

  it("reads the caller's access key from the SigV4 credential", () => {
    expect(
      accessKeyIdOf(
        'AWS4-HMAC-SHA256 Credential=LOCALCONNECT/20261206/us-east-1/dynamodb/aws4_request, SignedHeaders=host',
      ),
    ).toBe('LOCALCONNECT');
  });

  it('passes a call the role allows on to the service', async () => {
    const proxy = await proxyFor('dynamodb', [allow('dynamodb:GetItem', TABLE)]);

    const read = await tableClient(proxy.endpoint).send(
      new GetCommand({ TableName: tableName, Key: { pk: 'x', sk: 'x' } }),
    );

    expect(read.Item).toBeUndefined();
  });

  it('refuses a DynamoDB call the role does not allow as DynamoDB does, and the write never happens', async () => {
    const proxy = await proxyFor('dynamodb', [allow('dynamodb:GetItem', TABLE)]);
    const client = tableClient(proxy.endpoint);

    const failure = await failureOf(
      client.send(new PutCommand({ TableName: tableName, Item: { pk: 'refused', sk: 'refused' } })),
    );
    const read = await client.send(new GetCommand({ TableName: tableName, Key: { pk: 'refused', sk: 'refused' } }));

    expect({ name: failure?.name, item: read.Item }).toEqual({ name: 'AccessDeniedException', item: undefined });
    expect(failure?.message).toBe(
      `User: arn:aws:sts::123456789012:assumed-role/WorkerRole/fanout is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/${tableName} because no identity-based policy allows the dynamodb:PutItem action`,
    );
  });

  it('lets an explicit Deny win over an Allow', async () => {
    const proxy = await proxyFor('dynamodb', [
      allow('dynamodb:GetItem', TABLE),
      { Effect: 'Deny', Action: 'dynamodb:GetItem', Resource: '*' },
    ]);

    const failure = await failureOf(
      tableClient(proxy.endpoint).send(new GetCommand({ TableName: tableName, Key: { pk: 'x', sk: 'x' } })),
    );

    expect(failure?.message).toContain('with an explicit deny in an identity-based policy');
  });

  it('refuses a caller whose key belongs to no function', async () => {
    const proxy = await proxyFor('dynamodb', [allow('dynamodb:GetItem', TABLE)]);

    const failure = await failureOf(
      tableClient(proxy.endpoint, 'SOMEONE').send(new GetCommand({ TableName: tableName, Key: { pk: 'x', sk: 'x' } })),
    );

    expect(failure?.name).toBe('UnrecognizedClientException');
  });

  it('refuses an SQS call the role does not allow as SQS does', async () => {
    const proxy = await proxyFor('sqs', [allow('sqs:ReceiveMessage', { 'Fn::GetAtt': ['FanOutQueue', 'Arn'] })]);
    const client = localSqsClient(proxy.endpoint, credentials());

    const failure = await failureOf(client.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'job' })));
    client.destroy();

    // SQS's JSON protocol keeps its query protocol's error codes (x-amzn-query-error): the SDK names it AccessDenied.
    expect({ name: failure?.name, status: failure?.$metadata?.httpStatusCode }).toEqual({
      name: 'AccessDenied',
      status: 403,
    });
  });

  it('refuses an @connections call the role does not allow as API Gateway does, and sends nothing', async () => {
    const proxy = await proxyFor('execute-api', [
      allow('execute-api:ManageConnections', { 'Fn::Sub': `${STAGE}/DELETE/@connections/*` }),
    ]);
    const client = new ApiGatewayManagementApiClient({
      endpoint: proxy.endpoint,
      region: REGION,
      credentials: credentials(),
      maxAttempts: 1,
    });
    const before = api.received.length;

    const failure = await failureOf(client.send(new PostToConnectionCommand({ ConnectionId: 'c-1', Data: 'hi' })));
    client.destroy();

    expect({
      name: failure?.name,
      status: failure?.$metadata?.httpStatusCode,
      sent: api.received.length - before,
    }).toEqual({ name: 'AccessDeniedException', status: 403, sent: 0 });
  });

  it('counts each call by function, action and resource, allowed or refused', async () => {
    const usage = new UsageLog();
    const proxy = await proxyFor('dynamodb', [allow('dynamodb:GetItem', TABLE)], usage);
    const client = tableClient(proxy.endpoint);

    await client.send(new GetCommand({ TableName: tableName, Key: { pk: 'x', sk: 'x' } }));
    await failureOf(client.send(new PutCommand({ TableName: tableName, Item: { pk: 'y', sk: 'y' } })));

    expect(usage.entries()).toEqual([
      { functionName: 'fanout', action: 'dynamodb:GetItem', resource: '${ChatTable.Arn}', allowed: 1, denied: 0 },
      { functionName: 'fanout', action: 'dynamodb:PutItem', resource: '${ChatTable.Arn}', allowed: 0, denied: 1 },
    ]);
  });

  it.each([
    ['from another origin', { origin: 'http://evil.example' }],
    ['to a rebound DNS name', { host: 'evil.example' }],
  ])('refuses a web page a call its role allows, %s, before judging or forwarding it', async (_, fromPage) => {
    const usage = new UsageLog();
    const proxy = await proxyFor('sqs', [allow('sqs:SendMessage', { 'Fn::GetAtt': ['FanOutQueue', 'Arn'] })], usage);
    const port = Number(new URL(proxy.endpoint).port);

    const answer = await sendRaw(port, {
      method: 'POST',
      path: '/',
      headers: {
        host: `127.0.0.1:${port}`,
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.SendMessage',
        ...signedBy('WORKER', 'sqs'),
        ...fromPage,
      },
      body: JSON.stringify({ QueueUrl: queue.url, MessageBody: 'forged' }),
    });

    expect({ status: answer.status, judged: usage.entries() }).toEqual({ status: 403, judged: [] });
  });
});

describe("the emulator's @connections routes, checked in place", () => {
  it('serves a post the role allows and refuses one it does not, as API Gateway does', async () => {
    const offlineRoot = dirname(dirname(createRequire(import.meta.url).resolve('serverless-offline')));
    const resources = template('unused', [
      allow('execute-api:ManageConnections', { 'Fn::Sub': `${STAGE}/POST/@connections/allowed-*` }),
    ]);
    const usage = new UsageLog();
    checkConnectionsRoutes(offlineRoot, (request) =>
      checkRequest(
        {
          service: 'execute-api',
          decode: connectionsCalls(STAGE),
          principals: new Map([
            ['WORKER', { functionName: 'fanout', policy: new RolePolicy('WorkerRole', resources) }],
          ]),
          resources,
          usage,
        },
        request,
      ),
    );
    const hapi = createRequire(join(offlineRoot, 'package.json'))('@hapi/hapi') as {
      server(options: object): {
        route(config: object): void;
        start(): Promise<void>;
        stop(): Promise<void>;
        info: { uri: string };
      };
    };
    const served: string[] = [];
    const server = hapi.server({ host: '127.0.0.1', port: 0 });
    server.route({
      method: 'POST',
      path: '/@connections/{connectionId}',
      options: { payload: { parse: false } },
      handler: (request: { params: { connectionId: string } }) => {
        served.push(request.params.connectionId);
        return null;
      },
    });
    await server.start();
    const client = new ApiGatewayManagementApiClient({
      endpoint: server.info.uri,
      region: REGION,
      credentials: { accessKeyId: 'WORKER', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    try {
      await client.send(new PostToConnectionCommand({ ConnectionId: 'allowed-1', Data: 'hi' }));
      const failure = await client.send(new PostToConnectionCommand({ ConnectionId: 'other-1', Data: 'hi' })).then(
        () => undefined,
        (error: unknown) => error as { name: string; $metadata?: { httpStatusCode?: number } },
      );

      expect({ served, name: failure?.name, status: failure?.$metadata?.httpStatusCode }).toEqual({
        served: ['allowed-1'],
        name: 'AccessDeniedException',
        status: 403,
      });
    } finally {
      client.destroy();
      await server.stop();
    }
  });
});

describe("each in-process invocation's own environment", () => {
  it('keeps what one invocation copies into process.env from another running at the same time', async () => {
    class FakeRunner implements Runner {
      readonly #variables: Record<string, string>;
      constructor(variables: Record<string, string>) {
        this.#variables = variables;
      }
      // As serverless-offline's InProcessRunner: copy the function's variables in, then run its (slow) handler.
      async run(): Promise<unknown> {
        Object.assign(process.env, this.#variables);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return process.env['LOCAL_IAM_TEST_KEY'];
      }
    }
    isolateRuns(FakeRunner.prototype);

    const seen = await Promise.all([
      new FakeRunner({ LOCAL_IAM_TEST_KEY: 'connect' }).run(),
      new FakeRunner({ LOCAL_IAM_TEST_KEY: 'message' }).run(),
    ]);

    expect({ seen, outside: process.env['LOCAL_IAM_TEST_KEY'] }).toEqual({
      seen: ['connect', 'message'],
      outside: undefined,
    });
  });
});
