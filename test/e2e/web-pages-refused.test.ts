import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand, QueueDoesNotExist, type SQSClient } from '@aws-sdk/client-sqs';
import { ADMIN_ACCESS_KEY } from '../../scripts/local-iam/iam-proxy.ts';
import { localSqsClient } from '../../scripts/local-sqs.ts';
import { localDynamoDbClient } from '../../scripts/local-stack.ts';
import { ChatClient } from '../support/chat-client.ts';
import { connectEvent } from '../support/lambda-events.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { type RawRequest, sendRaw, signedBy } from '../support/raw-http.ts';

/** One of the local stack's service ports: a request it serves to programs, and whether that request took effect. */
interface Service {
  readonly name: string;
  port(): number;
  /** A request that reads or changes something, identified by `marker`, with loopback Host `host`. */
  attempt(marker: string, host: string): RawRequest;
  /** Whether the request identified by `marker` took effect. */
  tookEffect(marker: string): Promise<boolean>;
}

/** The ways a web page's request arrives, as changes to a program's request. */
const fromWebPages: ReadonlyArray<[string, (attempt: RawRequest, port: number) => RawRequest]> = [
  ['a request from another origin', (a) => ({ ...a, headers: { ...a.headers, origin: 'http://evil.example' } })],
  [
    'a request from a page on a loopback origin',
    (a, port) => ({ ...a, headers: { ...a.headers, origin: `http://127.0.0.1:${port + 1}` } }),
  ],
  [
    'a CORS preflight',
    (a) => ({
      method: 'OPTIONS',
      path: a.path,
      headers: {
        host: a.headers['host'],
        origin: 'http://evil.example',
        'access-control-request-method': a.method,
        'access-control-request-headers': Object.keys(a.headers).join(','),
      },
      body: '',
    }),
  ],
  ['a request to a rebound DNS name', (a) => ({ ...a, headers: { ...a.headers, host: 'evil.example' } })],
  [
    'a request to a rebound DNS name with the right port',
    (a, port) => ({ ...a, headers: { ...a.headers, host: `evil.example:${port}` } }),
  ],
  [
    "a browser's request without an Origin",
    (a) => ({ ...a, headers: { ...a.headers, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' } }),
  ],
];

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

describe("the local stack's service ports, to web pages", () => {
  let started: TestStack | undefined;
  let dynamodb: DynamoDBClient | undefined;
  let sqs: SQSClient | undefined;
  let listener: ChatClient | undefined;
  let listenerId = '';
  let markers = 0;

  const stack = (): TestStack => {
    if (started === undefined) throw new Error('the local stack did not start');
    return started;
  };
  const portOf = (endpoint: string): number => Number(new URL(endpoint).port);
  const clients = (): { dynamodb: DynamoDBClient; sqs: SQSClient; listener: ChatClient } => {
    if (dynamodb === undefined || sqs === undefined || listener === undefined)
      throw new Error('the local stack did not start');
    return { dynamodb, sqs, listener };
  };

  beforeAll(async () => {
    started = await startTestStack();
    dynamodb = localDynamoDbClient(started.dynamoDbEndpoint);
    sqs = localSqsClient(started.sqsEndpoint);
    listener = await ChatClient.connect(started.websocketUrl);
    listenerId = await listener.whoAmI();
  }, 90_000);

  afterAll(async () => {
    await listener?.close();
    dynamodb?.destroy();
    sqs?.destroy();
    await started?.stop();
  });

  const services: readonly Service[] = [
    {
      name: 'DynamoDB (dynalite)',
      port: () => portOf(stack().dynamoDbEndpoint),
      attempt: (marker, host) => ({
        method: 'POST',
        path: '/',
        headers: {
          host,
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.PutItem',
          ...signedBy(ADMIN_ACCESS_KEY, 'dynamodb'),
        },
        body: JSON.stringify({ TableName: stack().tableName, Item: { pk: { S: marker }, sk: { S: marker } } }),
      }),
      async tookEffect(marker) {
        const { Item } = await clients().dynamodb.send(
          new GetItemCommand({ TableName: stack().tableName, Key: { pk: { S: marker }, sk: { S: marker } } }),
        );
        return Item !== undefined;
      },
    },
    {
      name: 'SQS (fauxqs)',
      port: () => portOf(stack().sqsEndpoint),
      attempt: (marker, host) => ({
        method: 'POST',
        path: '/',
        headers: {
          host,
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'AmazonSQS.CreateQueue',
          ...signedBy(ADMIN_ACCESS_KEY, 'sqs'),
        },
        body: JSON.stringify({ QueueName: marker }),
      }),
      async tookEffect(marker) {
        try {
          await clients().sqs.send(new GetQueueUrlCommand({ QueueName: marker }));
          return true;
        } catch (error) {
          if (error instanceof QueueDoesNotExist) return false;
          throw error;
        }
      },
    },
    {
      name: "Lambda (the emulator's Invoke API)",
      port: () => portOf(stack().lambdaEndpoint),
      attempt: (marker, host) => ({
        method: 'POST',
        path: '/2015-03-31/functions/ws-chat-local-connect/invocations',
        headers: { host, 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
        body: JSON.stringify(connectEvent(marker)),
      }),
      tookEffect: async (marker) => (await stack().table.connectionIds()).includes(marker),
    },
    {
      name: "@connections (the emulator's WebSocket port)",
      port: () => portOf(stack().managementEndpoint),
      attempt: (marker, host) => ({
        method: 'POST',
        path: `/@connections/${encodeURIComponent(listenerId)}`,
        headers: { host, 'content-type': 'application/json', ...signedBy(ADMIN_ACCESS_KEY, 'execute-api') },
        body: JSON.stringify({ type: 'pong', connectionId: marker }),
      }),
      async tookEffect(marker) {
        // A frame a program posts after the attempt arrives after the attempt's, had it been delivered.
        const after = `${marker}-after`;
        const port = portOf(stack().managementEndpoint);
        expect(Math.floor((await sendRaw(port, this.attempt(after, `127.0.0.1:${port}`))).status / 100)).toBe(2);
        await clients().listener.waitFor((frame) => frame.type === 'pong' && frame['connectionId'] === after);
        return clients().listener.received.some((frame) => frame.type === 'pong' && frame['connectionId'] === marker);
      },
    },
  ];

  describe.each(services)('$name', (service) => {
    it.each(fromWebPages)('refuses %s, grants no origin anything and changes nothing', async (_, fromWebPage) => {
      markers += 1;
      const marker = `web-page-${markers}`;
      const port = service.port();

      const answer = await sendRaw(port, fromWebPage(service.attempt(marker, `127.0.0.1:${port}`), port));

      expect(answer.status).toBe(403);
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
      expect(await service.tookEffect(marker)).toBe(false);
    });

    it.each(LOOPBACK_NAMES)('serves a program that addresses it as %s', async (name) => {
      markers += 1;
      const marker = `program-${markers}`;
      const port = service.port();

      const answer = await sendRaw(port, service.attempt(marker, `${name}:${port}`));

      expect(Math.floor(answer.status / 100)).toBe(2);
      expect(await service.tookEffect(marker)).toBe(true);
    });
  });
});
