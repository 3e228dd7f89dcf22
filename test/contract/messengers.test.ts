import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ApiGatewayMessenger } from '../../src/adapters/api-gateway-messenger.ts';
import { type Behaviour, RecordingMessenger } from '../fakes/recording-messenger.ts';
import { type Answer, FakeConnectionsApi } from '../support/fake-connections-api.ts';
import { type ConnectionScript, messengerContract } from './messenger.contract.ts';

/** SEND_MAX_ATTEMPTS's default, which the composition root passes to the client as `maxAttempts`. */
const MAX_ATTEMPTS = 3;

/** What API Gateway's `@connections` API answers a connection that behaves so. */
function answerFor(script: Exclude<ConnectionScript, 'delivered'>, timeoutMs: number): Answer {
  switch (script) {
    case 'gone':
      // Empty, as serverless-offline sends it; the SDK then names the error `Unknown`.
      return { status: 410 };
    case 'throttled':
      return { status: 429, errorType: 'LimitExceededException', body: '{"message":"Too Many Requests"}' };
    case 'failing':
      return { status: 500, errorType: 'InternalServerErrorException', body: '{"message":"Internal server error"}' };
    case 'rejected':
      return { status: 403, errorType: 'ForbiddenException', body: '{"message":"Forbidden"}' };
    case 'slow':
      return { status: 200, afterMs: timeoutMs / 2 };
    case 'hanging':
      return 'hang';
  }
}

/** What the fake does for a connection that behaves so. */
function behaviourFor(script: ConnectionScript, timeoutMs: number): Behaviour {
  switch (script) {
    case 'delivered':
    case 'gone':
      return script;
    case 'throttled':
      return RecordingMessenger.failure('throttled');
    case 'failing':
      return RecordingMessenger.failure('unavailable');
    case 'rejected':
      return RecordingMessenger.failure('rejected');
    case 'slow':
      return RecordingMessenger.after(timeoutMs / 2, 'delivered');
    case 'hanging':
      return RecordingMessenger.after(timeoutMs, RecordingMessenger.failure('timeout'));
  }
}

messengerContract('ApiGatewayMessenger over HTTP', async ({ timeoutMs }) => {
  const api = await new FakeConnectionsApi().start();
  // Built as the composition root builds it: retries through maxAttempts, keep-alive sockets, and the
  // adapter's timeout around each send.
  const sockets = { keepAlive: true, maxSockets: 50 };
  const client = new ApiGatewayManagementApiClient({
    endpoint: api.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: new NodeHttpHandler({ httpAgent: new HttpAgent(sockets), httpsAgent: new HttpsAgent(sockets) }),
  });
  return {
    messenger: new ApiGatewayMessenger(client, { timeoutMs }),
    script: (connectionId, script) => {
      if (script === 'delivered') api.live(connectionId);
      else api.always(connectionId, answerFor(script, timeoutMs));
    },
    received: (connectionId) => api.received.filter((r) => r.connectionId === connectionId).map((r) => r.body),
    close: async () => {
      client.destroy();
      await api.stop();
    },
  };
});

messengerContract('RecordingMessenger', async ({ timeoutMs }) => {
  const messenger = new RecordingMessenger();
  return {
    messenger,
    script: (connectionId, script) => void messenger.on(connectionId, behaviourFor(script, timeoutMs)),
    received: (connectionId) => messenger.framesTo(connectionId).map((frame) => JSON.stringify(frame)),
    close: async () => undefined,
  };
});
