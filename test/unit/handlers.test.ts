import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { ChatService } from '../../src/domain/chat-service.ts';
import type { ConnectionRepository } from '../../src/domain/connection-repository.ts';
import { ConfigError } from '../../src/handlers/config.ts';
import { createConnectHandler } from '../../src/handlers/connect.ts';
import type { Dependencies, DependencyProvider } from '../../src/handlers/dependencies.ts';
import { createDisconnectHandler } from '../../src/handlers/disconnect.ts';
import type { ErrorCode } from '../../src/handlers/inbound-frame.ts';
import { createMessageHandler } from '../../src/handlers/message.ts';
import { FailingConnectionRepository } from '../fakes/failing-connection-repository.ts';
import { RecordingLogger } from '../fakes/recording-logger.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';

interface Harness {
  readonly connections: InMemoryConnectionRepository;
  readonly messenger: RecordingMessenger;
  readonly logger: RecordingLogger;
  readonly deps: DependencyProvider;
}

interface HarnessOptions {
  readonly chatMode?: Dependencies['chatMode'];
  readonly connected?: readonly string[];
  /** Wraps the in-memory table, to make some of its calls fail. */
  readonly repository?: (table: InMemoryConnectionRepository) => ConnectionRepository;
}

async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const connections = new InMemoryConnectionRepository({ pageSize: 2 });
  const messenger = new RecordingMessenger();
  const logger = new RecordingLogger();
  const plain = new ChatService({ connections, messenger, concurrency: 4 });
  for (const id of options.connected ?? ['A', 'B', 'C']) await plain.connect(id);
  const repository = options.repository?.(connections) ?? connections;
  const built: Dependencies = {
    service: new ChatService({ connections: repository, messenger, concurrency: 4 }),
    chatMode: options.chatMode ?? 'broadcast',
    limits: { maxFrameBytes: 256, maxTextBytes: 64 },
    logger,
  };
  return { connections, messenger, logger, deps: () => built };
}

type EventType = APIGatewayProxyWebsocketEventV2['requestContext']['eventType'];

function websocketEvent(
  connectionId: string,
  body: string | undefined,
  { eventType = 'MESSAGE', routeKey = '$default', isBase64Encoded = false }: {
    eventType?: EventType;
    routeKey?: string;
    isBase64Encoded?: boolean;
  } = {},
): APIGatewayProxyWebsocketEventV2 {
  return {
    requestContext: {
      routeKey,
      eventType,
      connectionId,
      messageId: 'msg-in-1',
      extendedRequestId: 'ext-1',
      requestTime: '01/Jan/2030:00:00:00 +0000',
      messageDirection: 'IN',
      stage: 'dev',
      connectedAt: 1_893_456_000_000,
      requestTimeEpoch: 1_893_456_000_000,
      requestId: 'req-1',
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
      apiId: 'abc123',
    },
    body,
    isBase64Encoded,
  };
}

const connectEvent = (id: string) => websocketEvent(id, undefined, { eventType: 'CONNECT', routeKey: '$connect' });
const disconnectEvent = (id: string) =>
  websocketEvent(id, undefined, { eventType: 'DISCONNECT', routeKey: '$disconnect' });

const context: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'ws-chat-dev-message',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:ws-chat-dev-message',
  memoryLimitInMB: '256',
  awsRequestId: 'aws-req-1',
  logGroupName: '/aws/lambda/ws-chat-dev-message',
  logStreamName: '2030/01/01/[$LATEST]abc',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

async function listed(connections: ConnectionRepository): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of connections.list()) ids.push(...page);
  return ids.sort();
}

const SECRET_DETAIL = 'arn:aws:dynamodb:eu-west-1:123456789012:table/chat-connections is throttled';

/** Looks for anything in a client-visible value that only a server error would carry. */
function leaksDetail(value: unknown): boolean {
  const text = JSON.stringify(value) ?? '';
  return text.includes(SECRET_DETAIL) || /\bat .+:\d+|stack/i.test(text);
}

// The connect, disconnect and dependency-failure paths log through the JSON console logger, not the injected one;
// these tests silence it so that the run stays readable.
beforeEach(() => {
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
});

afterEach(() => {
  jest.restoreAllMocks();
});

describe('$connect handler', () => {
  it('stores the connection and answers 200', async () => {
    const h = await harness({ connected: [] });

    const response = await createConnectHandler(h.deps)(connectEvent('A'), context);

    expect({ response, stored: await listed(h.connections) }).toEqual({ response: { statusCode: 200 }, stored: ['A'] });
  });

  it('answers 500 instead of throwing when the connection cannot be stored', async () => {
    const h = await harness({
      connected: [],
      repository: (table) => new FailingConnectionRepository(table).failSave(new Error(SECRET_DETAIL)),
    });

    const response = await createConnectHandler(h.deps)(connectEvent('A'), context);

    expect(response).toMatchObject({ statusCode: 500 });
  });

  it('puts no stack trace or error detail in the 500 response', async () => {
    const h = await harness({
      connected: [],
      repository: (table) => new FailingConnectionRepository(table).failSave(new Error(SECRET_DETAIL)),
    });

    const response = await createConnectHandler(h.deps)(connectEvent('A'), context);

    expect(leaksDetail(response)).toBe(false);
  });

  it('answers 500 instead of throwing when the dependencies cannot be built', async () => {
    const failing: DependencyProvider = () => {
      throw new ConfigError('invalid configuration: CHAT_TABLE: required');
    };

    const response = await createConnectHandler(failing)(connectEvent('A'), context);

    expect(response).toMatchObject({ statusCode: 500 });
  });
});

describe('$disconnect handler', () => {
  it('forgets the connection and answers 200', async () => {
    const h = await harness();

    const response = await createDisconnectHandler(h.deps)(disconnectEvent('B'), context);

    expect({ response, stored: await listed(h.connections) }).toEqual({
      response: { statusCode: 200 },
      stored: ['A', 'C'],
    });
  });
});

describe('message handler', () => {
  it('in broadcast mode sends a plain text frame to every connection', async () => {
    const h = await harness({ chatMode: 'broadcast' });

    const response = await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

    expect({ response, to: h.messenger.sent.map((s) => s.connectionId).sort() }).toEqual({
      response: { statusCode: 200 },
      to: ['A', 'B', 'C'],
    });
  });

  it('broadcasts a message frame that names its sender', async () => {
    const h = await harness({ chatMode: 'broadcast' });

    await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

    expect(h.messenger.framesTo('C')).toEqual([
      { type: 'message', id: expect.any(String), from: 'A', text: 'hello all', sentAt: expect.any(String) },
    ]);
  });

  it('in echo mode echoes a plain text frame to its sender only', async () => {
    const h = await harness({ chatMode: 'echo' });

    await createMessageHandler(h.deps)(websocketEvent('A', 'just me'), context);

    expect(h.messenger.sent).toEqual([
      {
        connectionId: 'A',
        frame: { type: 'echo', id: expect.any(String), from: 'A', text: 'just me', sentAt: expect.any(String) },
      },
    ]);
  });

  it('echoes a frame whose action is echo even in broadcast mode', async () => {
    const h = await harness({ chatMode: 'broadcast' });

    await createMessageHandler(h.deps)(
      websocketEvent('A', '{"action":"echo","text":"ping"}', { routeKey: 'echo' }),
      context,
    );

    expect(h.messenger.sent.map((s) => [s.connectionId, s.frame.type])).toEqual([['A', 'echo']]);
  });

  it('broadcasts a sendmessage frame of the AWS sample client even in echo mode', async () => {
    const h = await harness({ chatMode: 'echo' });

    await createMessageHandler(h.deps)(
      websocketEvent('A', '{"action":"sendmessage","data":"hi all"}', { routeKey: 'sendmessage' }),
      context,
    );

    expect(h.messenger.sent.map((s) => s.connectionId).sort()).toEqual(['A', 'B', 'C']);
  });

  it('answers a ping with a pong that names the caller, to the caller only', async () => {
    const h = await harness();

    await createMessageHandler(h.deps)(websocketEvent('B', '{"action":"ping"}', { routeKey: 'ping' }), context);

    expect(h.messenger.sent).toEqual([{ connectionId: 'B', frame: { type: 'pong', connectionId: 'B' } }]);
  });

  it('logs the broadcast report', async () => {
    const h = await harness({ chatMode: 'broadcast' });
    h.messenger.on('C', 'gone');

    await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

    const [sent] = h.messenger.framesTo('B');
    expect(h.logger.find('broadcast').map((entry) => entry.fields)).toEqual([
      {
        connectionId: 'A',
        messageId: sent && 'id' in sent ? sent.id : 'no frame reached B',
        recipients: 3,
        delivered: 2,
        gone: 1,
        removed: 1,
        failed: 0,
        failures: [],
      },
    ]);
  });

  const invalidFrames: ReadonlyArray<{ code: ErrorCode; body: string | undefined; isBase64Encoded?: boolean }> = [
    { code: 'binary_not_supported', body: 'aGVsbG8=', isBase64Encoded: true },
    { code: 'frame_too_large', body: 'x'.repeat(257) },
    { code: 'invalid_json', body: '{bad' },
    { code: 'invalid_frame', body: '{"text":5}' },
    { code: 'unknown_action', body: '{"action":"shout","text":"hi"}' },
    { code: 'empty_message', body: '   ' },
    { code: 'message_too_large', body: 'x'.repeat(65) },
  ];

  it.each(invalidFrames)('answers a $code frame with one error frame to its sender only', async (frame) => {
    const h = await harness();

    await createMessageHandler(h.deps)(
      websocketEvent('A', frame.body, { isBase64Encoded: frame.isBase64Encoded ?? false }),
      context,
    );

    expect(h.messenger.sent).toEqual([
      { connectionId: 'A', frame: { type: 'error', code: frame.code, message: expect.any(String) } },
    ]);
  });

  it.each(invalidFrames)('resolves with 400 on a $code frame', async (frame) => {
    const h = await harness();

    const response = await createMessageHandler(h.deps)(
      websocketEvent('A', frame.body, { isBase64Encoded: frame.isBase64Encoded ?? false }),
      context,
    );

    expect(response).toEqual({ statusCode: 400 });
  });

  it.each(invalidFrames)('leaves the connection table unchanged on a $code frame', async (frame) => {
    const h = await harness();

    await createMessageHandler(h.deps)(
      websocketEvent('A', frame.body, { isBase64Encoded: frame.isBase64Encoded ?? false }),
      context,
    );

    expect(await listed(h.connections)).toEqual(['A', 'B', 'C']);
  });

  it('removes a sender that its error frame finds gone', async () => {
    const h = await harness();
    h.messenger.on('A', 'gone');

    await createMessageHandler(h.deps)(websocketEvent('A', '{bad'), context);

    expect(await listed(h.connections)).toEqual(['B', 'C']);
  });

  describe('on an unexpected failure', () => {
    const failingList = (table: InMemoryConnectionRepository): ConnectionRepository =>
      new FailingConnectionRepository(table).failList(new Error(SECRET_DETAIL));

    it('resolves with 500 instead of throwing', async () => {
      const h = await harness({ repository: failingList });

      const response = await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

      expect(response).toEqual({ statusCode: 500 });
    });

    it('sends an internal_error frame to the sender only', async () => {
      const h = await harness({ repository: failingList });

      await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

      expect(h.messenger.sent).toEqual([
        { connectionId: 'A', frame: { type: 'error', code: 'internal_error', message: expect.any(String) } },
      ]);
    });

    it('keeps the error detail and stack out of the internal_error frame', async () => {
      const h = await harness({ repository: failingList });

      await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

      expect(h.messenger.sent.map((s) => leaksDetail(s.frame))).toEqual([false]);
    });

    it('logs the failure for the operators', async () => {
      const h = await harness({ repository: failingList });

      await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

      expect(h.logger.find('message route failed')).toEqual([
        {
          level: 'error',
          message: 'message route failed',
          fields: expect.objectContaining({
            connectionId: 'A',
            error: expect.objectContaining({ message: SECRET_DETAIL }),
          }),
        },
      ]);
    });

    it('resolves even when the internal_error frame cannot be sent', async () => {
      const h = await harness({ repository: failingList });
      h.messenger.on('A', new Error('socket hang up'));

      const response = await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

      expect(response).toEqual({ statusCode: 500 });
    });
  });

  it('answers 400 and sends nothing when the event carries no connection id', async () => {
    const h = await harness();

    const response = await createMessageHandler(h.deps)(websocketEvent('', 'hello all'), context);

    expect({ response, sent: h.messenger.sent }).toEqual({ response: { statusCode: 400 }, sent: [] });
  });

  it('resolves with 500 instead of throwing when the dependencies cannot be built', async () => {
    const failing: DependencyProvider = () => {
      throw new ConfigError('invalid configuration: CHAT_TABLE: required');
    };

    const response = await createMessageHandler(failing)(websocketEvent('A', 'hello all'), context);

    expect(response).toEqual({ statusCode: 500 });
  });
});
