import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryRateLimiter } from '../../src/adapters/in-memory-rate-limiter.ts';
import type { RateLimit } from '../../src/domain/rate-limiter.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import { ChatService } from '../../src/domain/chat-service.ts';
import { ConcurrentChangeError, DeliveryError } from '../../src/domain/errors.ts';
import type { ConnectionRepository } from '../../src/domain/connection-repository.ts';
import type { ServerFrame } from '../../src/domain/frames.ts';
import { ConfigError } from '../../src/handlers/wiring/config.ts';
import { createConnectHandler } from '../../src/handlers/functions/connect.ts';
import type { Dependencies, DependencyProvider } from '../../src/handlers/wiring/dependencies.ts';
import { createDisconnectHandler } from '../../src/handlers/functions/disconnect.ts';
import type { ErrorCode } from '../../src/domain/frames.ts';
import { createMessageHandler } from '../../src/handlers/functions/message.ts';
import { FailingConnectionRepository } from '../fakes/failing-connection-repository.ts';
import { RecordingLogger } from '../fakes/recording-logger.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { RecordingMetrics } from '../fakes/recording-metrics.ts';

interface Harness {
  readonly connections: InMemoryConnectionRepository;
  readonly history: InMemoryMessageHistory;
  readonly messenger: RecordingMessenger;
  readonly logger: RecordingLogger;
  readonly metrics: RecordingMetrics;
  readonly deps: DependencyProvider;
}

interface HarnessOptions {
  readonly chatMode?: Dependencies['chatMode'];
  /** Who is connected where; by default A, B and C in the lobby. */
  readonly rooms?: Record<string, readonly string[]>;
  /** Wraps the in-memory table, to make some of its calls fail. */
  readonly repository?: (table: InMemoryConnectionRepository) => ConnectionRepository;
  readonly rateLimit?: RateLimit;
  readonly authMode?: Dependencies['authMode'];
  readonly allowedOrigins?: readonly string[];
}

/** The rate limiter's clock stands still, so every frame of a test falls in one window. */
const T_RATE = new Date('2030-01-01T00:00:05.000Z');

async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const connections = new InMemoryConnectionRepository({ pageSize: 2 });
  const history = new InMemoryMessageHistory();
  const messenger = new RecordingMessenger();
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  // Connected an hour ago: long past their handshakes, so a 410 means gone.
  const plain = new ChatService({ connections, history, messenger, concurrency: 4, now: () => new Date(Date.now() - 3_600_000) });
  for (const [room, ids] of Object.entries(options.rooms ?? { lobby: ['A', 'B', 'C'] })) {
    for (const id of ids) await plain.connect(id, { room, name: `Name ${id}` });
  }
  const repository = options.repository?.(connections) ?? connections;
  const built: Dependencies = {
    service: new ChatService({ connections: repository, history, messenger, concurrency: 4 }),
    chatMode: options.chatMode ?? 'broadcast',
    authMode: options.authMode ?? 'none',
    allowedOrigins: options.allowedOrigins ?? [],
    limits: { maxFrameBytes: 256, maxTextBytes: 64 },
    logger,
    metrics,
    rateLimiter: new InMemoryRateLimiter(options.rateLimit ?? { frames: 1000, windowSeconds: 10 }, () => T_RATE),
    rateLimit: options.rateLimit ?? { frames: 1000, windowSeconds: 10 },
  };
  return { connections, history, messenger, logger, metrics, deps: () => built };
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

function connectEvent(id: string, query?: Record<string, string>): APIGatewayProxyWebsocketEventV2 {
  const event = websocketEvent(id, undefined, { eventType: 'CONNECT', routeKey: '$connect' });
  return query === undefined ? event : { ...event, queryStringParameters: query };
}

const disconnectEvent = (id: string) =>
  websocketEvent(id, undefined, { eventType: 'DISCONNECT', routeKey: '$disconnect' });

/** A JSON frame sent on the route its action selects. */
function actionEvent(connectionId: string, frame: { action: string } & Record<string, unknown>): APIGatewayProxyWebsocketEventV2 {
  return websocketEvent(connectionId, JSON.stringify(frame), { routeKey: frame.action });
}

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

async function listed(connections: ConnectionRepository, room = 'lobby'): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of connections.list(room)) ids.push(...page);
  return ids.sort();
}

/** A short line per frame, so that a test can assert what one connection received, in order. */
function summary(frame: ServerFrame): string {
  switch (frame.type) {
    case 'welcome':
      return `welcome ${frame.room} replay=${frame.replay}`;
    case 'message':
      return `message ${frame.text}`;
    case 'presence':
      return `presence ${frame.event} ${frame.room} ${frame.connectionId}`;
    case 'error':
      return `error ${frame.code}`;
    default:
      return frame.type;
  }
}

const SECRET_DETAIL = 'arn:aws:dynamodb:eu-west-1:123456789012:table/chat-table is throttled';

/** Looks for anything in a client-visible value that only a server error would carry. */
function leaksDetail(value: unknown): boolean {
  const text = JSON.stringify(value) ?? '';
  return text.includes(SECRET_DETAIL) || /\bat .+:\d+|stack/i.test(text);
}

// The dependency-failure paths log through the JSON console logger, not the injected one;
// these tests silence it so that the run stays readable.
beforeEach(() => {
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
});

afterEach(() => {
  jest.restoreAllMocks();
});

/** A $connect event as API Gateway sends it after the authorizer allowed the handshake, with an Origin header. */
function authenticatedConnectEvent(
  id: string,
  extra: { authorizer?: Record<string, string>; origin?: string; query?: Record<string, string> },
): APIGatewayProxyWebsocketEventV2 {
  const event = connectEvent(id, extra.query);
  return {
    ...event,
    ...(extra.origin !== undefined ? { headers: { Origin: extra.origin } } : {}),
    requestContext: { ...event.requestContext, ...(extra.authorizer ? { authorizer: extra.authorizer } : {}) },
  };
}

describe('$connect handler with an origin allow-list and authentication', () => {
  it('refuses a browser handshake from an origin not on the list with 403 and stores nothing', async () => {
    const h = await harness({ rooms: {}, allowedOrigins: ['https://chat.example.com'] });

    const response = await createConnectHandler(h.deps)(authenticatedConnectEvent('A', { origin: 'https://evil.example' }), context);

    expect({ status: typeof response === 'object' ? response.statusCode : response, stored: await listed(h.connections) }).toEqual({
      status: 403,
      stored: [],
    });
  });

  it('accepts a handshake from an origin on the list', async () => {
    const h = await harness({ rooms: {}, allowedOrigins: ['https://chat.example.com'] });

    await createConnectHandler(h.deps)(authenticatedConnectEvent('A', { origin: 'https://chat.example.com' }), context);

    expect(await listed(h.connections)).toEqual(['A']);
  });

  it('records the verified user and name from the authorizer, not the name the query asks for', async () => {
    const h = await harness({ rooms: {}, authMode: 'jwt' });

    await createConnectHandler(h.deps)(
      authenticatedConnectEvent('A', { authorizer: { userId: 'user-1', name: 'Ann Verified' }, query: { name: 'Mallory' } }),
      context,
    );

    expect(await h.connections.get('A')).toMatchObject({ userId: 'user-1', name: 'Ann Verified' });
  });

  it('refuses with 401 a handshake that reached it without a verified identity when authentication is on', async () => {
    const h = await harness({ rooms: {}, authMode: 'jwt' });

    const response = await createConnectHandler(h.deps)(connectEvent('A', { name: 'Mallory' }), context);

    expect({ status: typeof response === 'object' ? response.statusCode : response, stored: await listed(h.connections) }).toEqual({
      status: 401,
      stored: [],
    });
  });
});

describe('message handler with authentication on', () => {
  it('refuses setname with name_locked and keeps the verified name', async () => {
    const h = await harness({ authMode: 'jwt' });

    await createMessageHandler(h.deps)(websocketEvent('A', '{"action":"setname","name":"Mallory"}'), context);

    expect({ frames: h.messenger.framesTo('A'), name: (await h.connections.get('A'))?.name }).toEqual({
      frames: [{ type: 'error', code: 'name_locked', message: 'names come from your sign-in here' }],
      name: 'Name A',
    });
  });
});

describe('$connect handler', () => {
  it('stores the connection in the lobby and answers 200', async () => {
    const h = await harness({ rooms: {} });

    const response = await createConnectHandler(h.deps)(connectEvent('A'), context);

    expect({ response, stored: await listed(h.connections, 'lobby') }).toEqual({
      response: { statusCode: 200 },
      stored: ['A'],
    });
  });

  it('stores the room the query string names, lowercased', async () => {
    const h = await harness({ rooms: {} });

    await createConnectHandler(h.deps)(connectEvent('A', { room: 'Kitchen' }), context);

    expect((await h.connections.get('A'))?.room).toBe('kitchen');
  });

  it('stores the name the query string gives, trimmed', async () => {
    const h = await harness({ rooms: {} });

    await createConnectHandler(h.deps)(connectEvent('A', { name: ' Ann Lee ' }), context);

    expect((await h.connections.get('A'))?.name).toBe('Ann Lee');
  });

  it('gives a connection that names no one a guest name', async () => {
    const h = await harness({ rooms: {} });

    await createConnectHandler(h.deps)(connectEvent('L0SM9cOFvHcCIhw='), context);

    expect((await h.connections.get('L0SM9cOFvHcCIhw='))?.name).toBe('Guest CIhw');
  });

  it('sends nothing, since API Gateway cannot deliver to a connection during its $connect', async () => {
    const h = await harness();

    await createConnectHandler(h.deps)(connectEvent('D', { room: 'lobby' }), context);

    expect(h.messenger.sent).toEqual([]);
  });

  it.each<{ case: string; query: Record<string, string> }>([
    { case: 'a room with a space and punctuation', query: { room: 'no spaces!' } },
    { case: 'a room over 32 characters', query: { room: 'x'.repeat(33) } },
    { case: 'an empty room', query: { room: '' } },
    { case: 'a name with a control character', query: { name: 'Ann\u0000' } },
    { case: 'a name of 40 characters', query: { name: 'x'.repeat(40) } },
  ])('refuses $case with 400 and stores nothing', async ({ query }) => {
    const h = await harness({ rooms: {} });

    const response = await createConnectHandler(h.deps)(connectEvent('A', query), context);

    expect({ response, stored: await h.connections.get('A') }).toEqual({
      response: expect.objectContaining({ statusCode: 400 }),
      stored: undefined,
    });
  });

  it('names the query parameter it refused in the 400 response', async () => {
    const h = await harness({ rooms: {} });

    const response = await createConnectHandler(h.deps)(connectEvent('A', { room: 'no spaces!' }), context);

    expect(response).toMatchObject({ statusCode: 400, body: expect.stringMatching(/^room: /) });
  });

  it('answers 500 instead of throwing when the connection cannot be stored', async () => {
    const h = await harness({
      rooms: {},
      repository: (table) => new FailingConnectionRepository(table).failSave(new Error(SECRET_DETAIL)),
    });

    const response = await createConnectHandler(h.deps)(connectEvent('A'), context);

    expect(response).toMatchObject({ statusCode: 500 });
  });

  it('puts no stack trace or error detail in the 500 response', async () => {
    const h = await harness({
      rooms: {},
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

  it('tells the members left in its room, and no one else, that it left', async () => {
    const h = await harness({ rooms: { kitchen: ['A', 'B'], lobby: ['L'] } });

    await createDisconnectHandler(h.deps)(disconnectEvent('A'), context);

    expect(h.messenger.sent.map((s) => [s.connectionId, summary(s.frame)])).toEqual([['B', 'presence leave kitchen A']]);
  });

  it('logs the fan-out report of the leave presence', async () => {
    const h = await harness({ rooms: { kitchen: ['A', 'B'] } });

    await createDisconnectHandler(h.deps)(disconnectEvent('A'), context);

    expect(h.logger.find('fan-out').map((entry) => entry.fields)).toEqual([
      expect.objectContaining({ connectionId: 'A', action: 'disconnect', room: 'kitchen', recipients: 1, delivered: 1 }),
    ]);
  });

  it('answers 200 and sends nothing for a connection that is not stored', async () => {
    const h = await harness();

    const response = await createDisconnectHandler(h.deps)(disconnectEvent('ghost'), context);

    expect({ response, sent: h.messenger.sent }).toEqual({ response: { statusCode: 200 }, sent: [] });
  });
});

describe('message handler', () => {
  describe('chat messages', () => {
    it('in broadcast mode sends a plain text frame to every connection of the sender\'s room', async () => {
      const h = await harness({ chatMode: 'broadcast', rooms: { lobby: ['A', 'B', 'C'], kitchen: ['K'] } });

      const response = await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

      expect({ response, to: h.messenger.sent.map((s) => s.connectionId).sort() }).toEqual({
        response: { statusCode: 200 },
        to: ['A', 'B', 'C'],
      });
    });

    it('sends a message frame that names its sender, its sender\'s name and its room', async () => {
      const h = await harness({ chatMode: 'broadcast' });

      await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

      expect(h.messenger.framesTo('C')).toEqual([
        {
          type: 'message',
          id: expect.any(String),
          seq: 1,
          room: 'lobby',
          from: 'A',
          name: 'Name A',
          text: 'hello all',
          sentAt: expect.any(String),
        },
      ]);
    });

    it('keeps the message in its room\'s history', async () => {
      const h = await harness({ chatMode: 'broadcast' });

      await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

      expect((await h.history.recent('lobby')).map((m) => m.text)).toEqual(['hello all']);
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

      await createMessageHandler(h.deps)(actionEvent('A', { action: 'echo', text: 'ping' }), context);

      expect(h.messenger.sent.map((s) => [s.connectionId, s.frame.type])).toEqual([['A', 'echo']]);
    });

    it('broadcasts a sendmessage frame of the AWS sample client even in echo mode', async () => {
      const h = await harness({ chatMode: 'echo' });

      await createMessageHandler(h.deps)(actionEvent('A', { action: 'sendmessage', data: 'hi all' }), context);

      expect(h.messenger.sent.map((s) => s.connectionId).sort()).toEqual(['A', 'B', 'C']);
    });

    it('lands the AWS sample client, which connects without a room, in the lobby', async () => {
      const h = await harness({ rooms: { lobby: ['L'], kitchen: ['K'] } });
      await createConnectHandler(h.deps)(connectEvent('S'), context);

      await createMessageHandler(h.deps)(actionEvent('S', { action: 'sendmessage', data: 'hello from 2019' }), context);

      expect(h.messenger.sent.map((s) => [s.connectionId, s.frame.type === 'message' ? s.frame.room : s.frame.type]).sort()).toEqual([
        ['L', 'lobby'],
        ['S', 'lobby'],
      ]);
    });

    it('acknowledges a sendmessage with a clientMsgId to its sender, after its own copy', async () => {
      const h = await harness();

      await createMessageHandler(h.deps)(
        actionEvent('A', { action: 'sendmessage', text: 'did you get it?', clientMsgId: 'c-1' }),
        context,
      );

      const [message, ack] = h.messenger.framesTo('A');
      expect(ack).toEqual({
        type: 'ack',
        clientMsgId: 'c-1',
        id: message?.type === 'message' ? message.id : 'no message came first',
        seq: 1,
        recipients: 3,
        delivered: 3,
        gone: 0,
        failed: 0,
      });
    });

    it('sends no ack for a message without a clientMsgId', async () => {
      const h = await harness();

      await createMessageHandler(h.deps)(actionEvent('A', { action: 'sendmessage', text: 'hi' }), context);

      expect(h.messenger.sent.filter((s) => s.frame.type === 'ack')).toEqual([]);
    });

    it('logs the fan-out report of a message', async () => {
      const h = await harness({ chatMode: 'broadcast' });
      h.messenger.on('C', 'gone');

      await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

      expect(h.logger.find('fan-out').map((entry) => entry.fields)).toEqual([
        {
          connectionId: 'A',
          route: '$default',
          requestId: 'aws-req-1',
          action: 'broadcast',
          room: 'lobby',
          recipients: 3,
          delivered: 2,
          gone: 1,
          removed: 1,
          failed: 0,
          failures: [],
        },
      ]);
    });
  });

  describe('ping', () => {
    it('answers a ping with a pong that names the caller, to the caller only', async () => {
      const h = await harness();

      await createMessageHandler(h.deps)(actionEvent('B', { action: 'ping' }), context);

      expect(h.messenger.sent).toEqual([{ connectionId: 'B', frame: { type: 'pong', connectionId: 'B' } }]);
    });
  });

  describe('hello', () => {
    it('welcomes the caller and tells its room, the caller included, that it joined', async () => {
      const h = await harness({ rooms: { kitchen: ['A', 'B'], lobby: ['L'] } });

      const response = await createMessageHandler(h.deps)(actionEvent('A', { action: 'hello' }), context);

      expect({ response, sent: h.messenger.sent.map((s) => [s.connectionId, summary(s.frame)]) }).toEqual({
        response: { statusCode: 200 },
        sent: [
          ['A', 'welcome kitchen replay=0'],
          ['A', 'presence join kitchen A'],
          ['B', 'presence join kitchen A'],
        ],
      });
    });

    it('replays the room\'s history after the id the caller names', async () => {
      const h = await harness({ rooms: { kitchen: ['A', 'B'] } });
      const send = createMessageHandler(h.deps);
      for (const text of ['one', 'two', 'three']) await send(websocketEvent('A', text), context);
      const [first] = await h.history.recent('kitchen');
      h.messenger.sent.length = 0;

      await send(actionEvent('B', { action: 'hello', after: first?.id ?? 'missing' }), context);

      expect(h.messenger.framesTo('B').filter((f) => f.type !== 'presence').map(summary)).toEqual([
        'welcome kitchen replay=2',
        'message two',
        'message three',
      ]);
    });
  });

  describe('join', () => {
    it('moves the caller to the room, lowercased, and answers 200', async () => {
      const h = await harness();

      const response = await createMessageHandler(h.deps)(actionEvent('A', { action: 'join', room: 'Kitchen' }), context);

      expect({ response, room: (await h.connections.get('A'))?.room }).toEqual({
        response: { statusCode: 200 },
        room: 'kitchen',
      });
    });

    it('welcomes the caller to the new room and tells both rooms', async () => {
      const h = await harness({ rooms: { lobby: ['A', 'B'], kitchen: ['K'] } });

      await createMessageHandler(h.deps)(actionEvent('A', { action: 'join', room: 'kitchen' }), context);

      expect(h.messenger.sent.map((s) => [s.connectionId, summary(s.frame)])).toEqual([
        ['B', 'presence leave lobby A'],
        ['A', 'welcome kitchen replay=0'],
        ['A', 'presence join kitchen A'],
        ['K', 'presence join kitchen A'],
      ]);
    });

    it('answers a join to an invalid room with one invalid_room error frame to the sender only', async () => {
      const h = await harness();

      await createMessageHandler(h.deps)(actionEvent('A', { action: 'join', room: 'no spaces!' }), context);

      expect(h.messenger.sent).toEqual([
        { connectionId: 'A', frame: { type: 'error', code: 'invalid_room', message: expect.any(String) } },
      ]);
    });

    it('leaves the caller in its room when the room it asks for is invalid', async () => {
      const h = await harness();

      await createMessageHandler(h.deps)(actionEvent('A', { action: 'join', room: 'no spaces!' }), context);

      expect(await listed(h.connections, 'lobby')).toEqual(['A', 'B', 'C']);
    });
  });

  describe('leave', () => {
    it('returns the caller to the lobby', async () => {
      const h = await harness({ rooms: { kitchen: ['A'] } });

      await createMessageHandler(h.deps)(actionEvent('A', { action: 'leave' }), context);

      expect((await h.connections.get('A'))?.room).toBe('lobby');
    });
  });

  describe('setname', () => {
    it('renames the caller and tells its room the new and the previous name', async () => {
      const h = await harness({ rooms: { kitchen: ['A', 'B'] } });

      await createMessageHandler(h.deps)(actionEvent('A', { action: 'setname', name: 'Ann' }), context);

      expect(h.messenger.framesTo('B')).toEqual([
        {
          type: 'presence',
          event: 'rename',
          room: 'kitchen',
          connectionId: 'A',
          name: 'Ann',
          previousName: 'Name A',
          rev: 1,
          at: expect.any(String),
        },
      ]);
    });

    it.each([
      { case: 'a control character', name: 'Ann\u0007' },
      { case: 'a right-to-left override', name: 'Ann\u202eeL' },
      { case: '40 characters', name: 'x'.repeat(40) },
    ])('answers a name with $case with one invalid_name error frame to the sender only', async ({ name }) => {
      const h = await harness();

      await createMessageHandler(h.deps)(actionEvent('A', { action: 'setname', name }), context);

      expect(h.messenger.sent).toEqual([
        { connectionId: 'A', frame: { type: 'error', code: 'invalid_name', message: expect.any(String) } },
      ]);
    });

    it('keeps the caller\'s name when the name it asks for is invalid', async () => {
      const h = await harness();

      await createMessageHandler(h.deps)(actionEvent('A', { action: 'setname', name: 'x'.repeat(40) }), context);

      expect((await h.connections.get('A'))?.name).toBe('Name A');
    });
  });

  describe('who', () => {
    it('sends the caller the roster of its room', async () => {
      const h = await harness({ rooms: { kitchen: ['A', 'B'], lobby: ['L'] } });

      await createMessageHandler(h.deps)(actionEvent('A', { action: 'who' }), context);

      expect(h.messenger.sent).toEqual([
        {
          connectionId: 'A',
          frame: {
            type: 'roster',
            room: 'kitchen',
            members: [
              { connectionId: 'A', name: 'Name A' },
              { connectionId: 'B', name: 'Name B' },
            ],
          },
        },
      ]);
    });
  });

  describe('a connection that is not registered', () => {
    const actions: ReadonlyArray<{ action: string } & Record<string, unknown>> = [
      { action: 'sendmessage', text: 'hi' },
      { action: 'hello' },
      { action: 'join', room: 'kitchen' },
      { action: 'leave' },
      { action: 'setname', name: 'Ann' },
      { action: 'who' },
    ];

    it.each(actions)('gets an unknown_connection error frame, and no one else anything, for $action', async (frame) => {
      const h = await harness();

      await createMessageHandler(h.deps)(actionEvent('ghost', frame), context);

      expect(h.messenger.sent).toEqual([
        { connectionId: 'ghost', frame: { type: 'error', code: 'unknown_connection', message: expect.any(String) } },
      ]);
    });

    it.each(actions)('gets 400 for $action', async (frame) => {
      const h = await harness();

      const response = await createMessageHandler(h.deps)(actionEvent('ghost', frame), context);

      expect(response).toEqual({ statusCode: 400 });
    });

    it('is logged as a refused frame, not as a failure', async () => {
      const h = await harness();

      await createMessageHandler(h.deps)(actionEvent('ghost', { action: 'who' }), context);

      expect(h.logger.entries.map((entry) => [entry.level, entry.message, entry.fields['code']])).toEqual([
        ['info', 'frame refused', 'unknown_connection'],
      ]);
    });

    it('is not registered by its frame', async () => {
      const h = await harness();

      await createMessageHandler(h.deps)(actionEvent('ghost', { action: 'join', room: 'kitchen' }), context);

      expect(await h.connections.get('ghost')).toBeUndefined();
    });

    it('gets the clientMsgId of its refused message back in the error frame', async () => {
      const h = await harness();

      await createMessageHandler(h.deps)(
        actionEvent('ghost', { action: 'sendmessage', text: 'hi', clientMsgId: 'c-9' }),
        context,
      );

      expect(h.messenger.framesTo('ghost')).toEqual([
        { type: 'error', code: 'unknown_connection', message: expect.any(String), clientMsgId: 'c-9' },
      ]);
    });
  });

  describe('refused frames', () => {
    const invalidFrames: ReadonlyArray<{ code: ErrorCode; body: string | undefined; isBase64Encoded?: boolean }> = [
      { code: 'binary_not_supported', body: 'aGVsbG8=', isBase64Encoded: true },
      { code: 'frame_too_large', body: 'x'.repeat(257) },
      { code: 'invalid_json', body: '{bad' },
      { code: 'invalid_frame', body: '{"text":5}' },
      { code: 'unknown_action', body: '{"action":"shout","text":"hi"}' },
      { code: 'empty_message', body: '   ' },
      { code: 'message_too_large', body: 'x'.repeat(65) },
      { code: 'invalid_room', body: '{"action":"join","room":"a.b"}' },
      { code: 'invalid_name', body: '{"action":"setname","name":""}' },
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

    it.each([
      { code: 'empty_message', frame: { action: 'sendmessage', text: '  ', clientMsgId: 'c-1' } },
      { code: 'message_too_large', frame: { action: 'sendmessage', text: 'x'.repeat(65), clientMsgId: 'c-1' } },
      { code: 'unknown_action', frame: { action: 'shout', text: 'hi', clientMsgId: 'c-1' } },
    ])('names the clientMsgId of a message refused with $code in its error frame', async ({ code, frame }) => {
      const h = await harness();

      await createMessageHandler(h.deps)(actionEvent('A', frame), context);

      expect(h.messenger.sent).toEqual([
        { connectionId: 'A', frame: { type: 'error', code, message: expect.any(String), clientMsgId: 'c-1' } },
      ]);
    });

    it('stores nothing in the history for a refused message', async () => {
      const h = await harness();

      await createMessageHandler(h.deps)(actionEvent('A', { action: 'sendmessage', text: '  ' }), context);

      expect(await h.history.recent('lobby')).toEqual([]);
    });

    it('removes a sender that its error frame finds gone', async () => {
      const h = await harness();
      h.messenger.on('A', 'gone');

      await createMessageHandler(h.deps)(websocketEvent('A', '{bad'), context);

      expect(await listed(h.connections)).toEqual(['B', 'C']);
    });
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

    it('logs the error itself, so that the logger keeps its cause and its own fields', async () => {
      const failure = new DeliveryError('B', 'unavailable', { cause: new Error(SECRET_DETAIL) });
      const h = await harness({ repository: (table) => new FailingConnectionRepository(table).failList(failure) });

      await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

      expect(h.logger.find('message route failed')[0]?.fields['error']).toBe(failure);
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

describe('message handler under a flood', () => {
  it('tells a live connection whose change kept losing to others that it conflicted, not that it is unknown', async () => {
    const h = await harness({
      rooms: { kitchen: ['A', 'B'] },
      repository: (table) => new FailingConnectionRepository(table).failUpdate(new ConcurrentChangeError('A')),
    });

    await createMessageHandler(h.deps)(actionEvent('A', { action: 'setname', name: 'Ann' }), context);

    expect(h.messenger.framesTo('A')).toEqual([{ type: 'error', code: 'conflict', message: expect.stringContaining('try again') }]);
  });

  it('weighs a hello by the replay and presence it causes: a budget of 30 admits three', async () => {
    const h = await harness({ rooms: { kitchen: ['A', 'B'] }, rateLimit: { frames: 30, windowSeconds: 10 } });
    const handler = createMessageHandler(h.deps);

    for (let i = 0; i < 5; i += 1) await handler(actionEvent('A', { action: 'hello' }), context);

    const toA = h.messenger.framesTo('A').map((frame) => (frame.type === 'error' ? `error ${frame.code}` : frame.type));
    expect(toA.filter((type) => type === 'welcome' || type.startsWith('error'))).toEqual([
      'welcome',
      'welcome',
      'welcome',
      'error rate_limited',
    ]);
  });

  it('counts a frame that does not parse as one frame', async () => {
    const h = await harness({ rateLimit: { frames: 2, windowSeconds: 10 } });
    const handler = createMessageHandler(h.deps);

    await handler(websocketEvent('A', '{bad'), context);
    await handler(websocketEvent('A', '{bad'), context);
    await handler(websocketEvent('A', '{bad'), context);

    expect(h.messenger.framesTo('A').map((frame) => (frame.type === 'error' ? frame.code : frame.type))).toEqual([
      'invalid_json',
      'invalid_json',
      'rate_limited',
    ]);
  });

  it('tells a flooding connection once per window that it is rate limited, and drops its excess frames', async () => {
    const h = await harness({ rateLimit: { frames: 3, windowSeconds: 10 } });
    const handler = createMessageHandler(h.deps);

    const responses = [];
    for (let i = 0; i < 6; i += 1) responses.push(await handler(websocketEvent('A', `flood ${i}`), context));

    const errors = h.messenger.framesTo('A').filter((frame) => frame.type === 'error');
    const texts = h.messenger.framesTo('B').flatMap((frame) => (frame.type === 'message' ? [frame.text] : []));
    expect({ statuses: responses.map((r) => (typeof r === 'object' ? r.statusCode : r)), errors, texts }).toEqual({
      statuses: [200, 200, 200, 429, 429, 429],
      errors: [{ type: 'error', code: 'rate_limited', message: expect.stringContaining('at most 3 every 10 s') }],
      texts: ['flood 0', 'flood 1', 'flood 2'],
    });
  });

  it('keeps other connections chatting while one floods', async () => {
    const h = await harness({ rateLimit: { frames: 2, windowSeconds: 10 } });
    const handler = createMessageHandler(h.deps);
    for (let i = 0; i < 5; i += 1) await handler(websocketEvent('A', `flood ${i}`), context);

    await handler(websocketEvent('B', 'calm words'), context);

    expect(h.messenger.framesTo('C').flatMap((frame) => (frame.type === 'message' ? [frame.text] : []))).toEqual([
      'flood 0',
      'flood 1',
      'calm words',
    ]);
  });

  it('counts invalid frames against the budget too', async () => {
    const h = await harness({ rateLimit: { frames: 2, windowSeconds: 10 } });
    const handler = createMessageHandler(h.deps);
    await handler(websocketEvent('A', '{bad'), context);
    await handler(websocketEvent('A', '{bad'), context);

    await handler(websocketEvent('A', 'a real message'), context);

    expect(h.messenger.framesTo('B')).toEqual([]);
  });
});

describe('observability', () => {
  it('counts the message and its deliveries, and publishes the metrics once per invocation', async () => {
    const h = await harness();

    await createMessageHandler(h.deps)(websocketEvent('A', 'hello all'), context);

    expect({
      messages: h.metrics.total('Messages'),
      deliveries: h.metrics.total('Deliveries'),
      published: h.metrics.published,
    }).toEqual({ messages: 1, deliveries: 3, published: 1 });
  });

  it('still publishes the metrics of an invocation that failed, with the refusal counted', async () => {
    const h = await harness();

    await createMessageHandler(h.deps)(websocketEvent('A', '{bad'), context);

    expect({ refused: h.metrics.total('RefusedFrames'), published: h.metrics.published }).toEqual({ refused: 1, published: 1 });
  });

  it('tags every log line of an invocation with its connection, route and request id', async () => {
    const h = await harness();

    await createMessageHandler(h.deps)(websocketEvent('A', 'hello all', { routeKey: 'sendmessage' }), context);

    expect(h.logger.find('fan-out')[0]?.fields).toMatchObject({ connectionId: 'A', route: 'sendmessage', requestId: 'aws-req-1' });
  });

  it('counts connections and disconnections', async () => {
    const h = await harness({ rooms: {} });

    await createConnectHandler(h.deps)(connectEvent('A'), context);
    await createDisconnectHandler(h.deps)(disconnectEvent('A'), context);

    expect([h.metrics.total('Connections'), h.metrics.total('Disconnections'), h.metrics.published]).toEqual([1, 1, 2]);
  });
});

describe('events that reach a handler not meant for them', () => {
  it('leaves the table alone when a message frame names $connect as its action', async () => {
    const h = await harness();
    await h.connections.update('A', { room: 'kitchen' });

    await createConnectHandler(h.deps)(websocketEvent('A', '{"action":"$connect"}', { routeKey: '$connect' }), context);

    expect(await h.connections.get('A')).toMatchObject({ room: 'kitchen', name: 'Name A' });
  });

  it('leaves the connection stored when a message frame names $disconnect as its action', async () => {
    const h = await harness();

    await createDisconnectHandler(h.deps)(websocketEvent('A', '{"action":"$disconnect"}', { routeKey: '$disconnect' }), context);

    expect(await listed(h.connections)).toEqual(['A', 'B', 'C']);
  });

  it('refuses a binary frame that arrives as a Buffer, as the local emulator passes it', async () => {
    const h = await harness();
    const event = { ...websocketEvent('A', undefined), body: Buffer.from([0xff, 0x00, 0x7b]) };

    await createMessageHandler(h.deps)(event as unknown as APIGatewayProxyWebsocketEventV2, context);

    expect(h.messenger.framesTo('A')).toEqual([
      { type: 'error', code: 'binary_not_supported', message: 'send text frames, not binary' },
    ]);
  });
});
