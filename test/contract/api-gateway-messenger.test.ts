import { createServer, type IncomingHttpHeaders } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { ApiGatewayMessenger } from '../../src/adapters/api-gateway-messenger.ts';
import { buildMessenger } from '../../src/handlers/wiring/build-messenger.ts';
import { loadConfig } from '../../src/handlers/wiring/config.ts';
import type { EchoFrame } from '../../src/domain/frames.ts';
import { FakeConnectionsApi } from '../support/fake-connections-api.ts';

const frame: EchoFrame = { type: 'echo', id: 'm1', from: 'A', text: 'héllo 👋', sentAt: '2026-01-01T00:00:00.000Z' };

// What every Messenger does (delivered, gone, each failure, slow, unicode) is in messenger.contract.ts; these are
// this adapter's own details: how it names API Gateway's answers and what the SDK retries.
describe('ApiGatewayMessenger over HTTP against a loopback @connections API', () => {
  let api: FakeConnectionsApi;
  let client: ApiGatewayManagementApiClient;

  function messenger(timeoutMs = 2000, maxAttempts = 3): ApiGatewayMessenger {
    client = new ApiGatewayManagementApiClient({
      endpoint: api.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts,
    });
    return new ApiGatewayMessenger(client, { timeoutMs });
  }

  beforeEach(async () => {
    api = await new FakeConnectionsApi().start();
  });

  afterEach(async () => {
    client?.destroy();
    await api.stop();
  });

  it('reports an AWS-shaped GoneException as gone', async () => {
    api.script('closed', { status: 410, body: JSON.stringify({ __type: 'GoneException', message: 'gone' }) });

    expect(await messenger().send('closed', frame)).toBe('gone');
  });

  it('lets the SDK retry 429 answers with backoff and delivers when one gets through', async () => {
    api.live('A').script('A', { status: 429, body: '{"message":"Too Many Requests"}' }, { status: 429, body: '{}' });

    // The SDK's throttling backoff waits up to 1 s and then up to 2 s, so allow it time for both waits.
    expect(await messenger(5000).send('A', frame)).toBe('delivered');
    expect(api.requestsFor('A')).toBe(3);
  });

  it('throws a throttled DeliveryError when 429s outlast every attempt', async () => {
    const busy = { status: 429, body: '{"message":"Too Many Requests"}' };
    api.live('A').script('A', busy, busy, busy);

    await expect(messenger(5000, 3).send('A', frame)).rejects.toMatchObject({
      name: 'DeliveryError',
      reason: 'throttled',
    });
    expect(api.requestsFor('A')).toBe(3);
  });

  it('treats a bare 400 as rejected, by its status, and does not retry it', async () => {
    api.always('A', { status: 400, body: '{"message":"Bad Request"}' });

    await expect(messenger().send('A', frame)).rejects.toMatchObject({ name: 'DeliveryError', reason: 'rejected' });
    expect(api.requestsFor('A')).toBe(1);
  });
});

describe('the messenger as the composition root builds it', () => {
  const lambdaEnv = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'ASIATESTTESTTESTTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret',
    AWS_SESSION_TOKEN: 'test-session',
    AWS_LAMBDA_FUNCTION_NAME: 'chat-message',
    _X_AMZN_TRACE_ID: 'Root=1-00000000-000000000000000000000000',
  };
  const saved = Object.fromEntries(Object.keys(lambdaEnv).map((key) => [key, process.env[key]]));

  afterEach(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) Reflect.deleteProperty(process.env, key);
      else process.env[key] = value;
    }
  });

  it('posts the frame signed, to the configured endpoint, without the headers a post never needs', async () => {
    Object.assign(process.env, lambdaEnv);
    const requests: Array<{ url: string | undefined; headers: IncomingHttpHeaders; body: string }> = [];
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        requests.push({ url: request.url, headers: request.headers, body });
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const messenger = buildMessenger(
      loadConfig({
        CHAT_TABLE: 'chat-test',
        WEBSOCKET_MANAGEMENT_ENDPOINT: `http://127.0.0.1:${address.port}/dev`,
        FANOUT_QUEUE_URL: 'http://127.0.0.1:1/000000000000/fanout',
        PRESENCE_QUEUE_URL: 'http://127.0.0.1:1/000000000000/presence',
      }),
    );

    const outcome = await messenger.send('A=', frame);
    server.close();
    const [request] = requests;

    expect({
      outcome,
      url: request?.url,
      body: request?.body,
      signed: request?.headers.authorization?.startsWith('AWS4-HMAC-SHA256 Credential=ASIATESTTESTTESTTEST/'),
      userAgent: request?.headers['x-amz-user-agent'] ?? request?.headers['user-agent'],
      traceId: request?.headers['x-amzn-trace-id'],
    }).toEqual({
      outcome: 'delivered',
      url: '/dev/@connections/A%3D',
      body: JSON.stringify(frame),
      signed: true,
      userAgent: undefined,
      traceId: undefined,
    });
  });
});
