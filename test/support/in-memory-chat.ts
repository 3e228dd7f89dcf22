import type { APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import { InMemoryRateLimiter } from '../../src/adapters/in-memory-rate-limiter.ts';
import { ChatService } from '../../src/domain/chat-service.ts';
import type { Connection, ConnectionChange, ConnectionChanges, Member } from '../../src/domain/connection.ts';
import type { ConnectionRepository } from '../../src/domain/connection-repository.ts';
import type { ServerFrame } from '../../src/domain/frames.ts';
import { loadConfig } from '../../src/handlers/wiring/config.ts';
import { type ChatRequest, parseInboundFrame } from '../../src/handlers/frames/inbound-frame.ts';
import type { Dependencies } from '../../src/handlers/wiring/dependencies.ts';
import { createMessageHandler } from '../../src/handlers/functions/message.ts';
import { RecordingLogger } from '../fakes/recording-logger.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { RecordingMetrics } from '../fakes/recording-metrics.ts';
import type { HostileFrame } from './hostile-frames.ts';

/** Counts the calls that add or take out connections, so a test can tell that none happened. */
export class WatchedConnectionRepository implements ConnectionRepository {
  readonly calls = { save: 0, retire: 0, remove: 0 };
  readonly #inner: ConnectionRepository;

  constructor(inner: ConnectionRepository) {
    this.#inner = inner;
  }

  save(connection: Connection): Promise<void> {
    this.calls.save += 1;
    return this.#inner.save(connection);
  }

  get(connectionId: string): Promise<Connection | undefined> {
    return this.#inner.get(connectionId);
  }

  update(connectionId: string, changes: ConnectionChanges): Promise<ConnectionChange | undefined> {
    return this.#inner.update(connectionId, changes);
  }

  retire(connectionId: string, connectedBefore: Date): Promise<boolean> {
    this.calls.retire += 1;
    return this.#inner.retire(connectionId, connectedBefore);
  }

  remove(connectionId: string): Promise<Connection | undefined> {
    this.calls.remove += 1;
    return this.#inner.remove(connectionId);
  }

  list(room: string): AsyncIterable<readonly string[]> {
    return this.#inner.list(room);
  }

  members(room: string, limit: number): Promise<readonly Member[]> {
    return this.#inner.members(room, limit);
  }
}

/** The production defaults for frame limits, read through the real configuration. */
export const DEFAULT_CONFIG = loadConfig({ CHAT_TABLE: 'chat-table', WEBSOCKET_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:1' });

/** Who is connected where before the first frame: id, room and name. */
export type Members = ReadonlyArray<{ readonly id: string; readonly room: string; readonly name: string }>;

/** The message handler's whole Middy chain over in-memory adapters, with every frame it sends recorded. */
export interface InMemoryChat {
  readonly connections: WatchedConnectionRepository;
  readonly history: InMemoryMessageHistory;
  readonly messenger: RecordingMessenger;
  readonly logger: RecordingLogger;
  /** Runs one frame from `connectionId` through the handler; returns its status code and what it sent. */
  receive(connectionId: string, frame: HostileFrame): Promise<{ statusCode: number | undefined; sent: ReadonlyArray<{ connectionId: string; frame: ServerFrame }> }>;
}

export async function inMemoryChat(members: Members): Promise<InMemoryChat> {
  const connections = new WatchedConnectionRepository(new InMemoryConnectionRepository({ pageSize: 2 }));
  const history = new InMemoryMessageHistory();
  const messenger = new RecordingMessenger();
  const logger = new RecordingLogger();
  const service = new ChatService({ connections, history, messenger, concurrency: 4 });
  for (const { id, room, name } of members) await service.connect(id, { room, name });
  connections.calls.save = 0;
  // The rate limit has tests of its own; here every frame must reach the parser.
  const limit = { frames: Number.MAX_SAFE_INTEGER, windowSeconds: 3600 };
  const deps: Dependencies = {
    service,
    chatMode: 'broadcast',
    authMode: DEFAULT_CONFIG.authMode,
    allowedOrigins: DEFAULT_CONFIG.allowedOrigins,
    limits: DEFAULT_CONFIG.limits,
    logger,
    metrics: new RecordingMetrics(),
    rateLimiter: new InMemoryRateLimiter(limit),
    rateLimit: limit,
  };
  const handler = createMessageHandler(() => deps);
  return {
    connections,
    history,
    messenger,
    logger,
    async receive(connectionId, frame) {
      const before = messenger.sent.length;
      const result = await handler(messageEvent(connectionId, frame), lambdaContext);
      const statusCode = typeof result === 'object' && result !== null ? result.statusCode : undefined;
      return { statusCode, sent: messenger.sent.slice(before) };
    },
  };
}

/** A MESSAGE event as API Gateway sends it: binary frames arrive base64-encoded. */
export function messageEvent(connectionId: string, frame: HostileFrame): APIGatewayProxyWebsocketEventV2 {
  const binary = frame.kind === 'binary';
  return {
    requestContext: {
      routeKey: '$default',
      eventType: 'MESSAGE',
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
    body: binary ? Buffer.from(frame.bytes).toString('base64') : frame.text,
    isBase64Encoded: binary,
  };
}

const lambdaContext: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'ws-chat-dev-message',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:ws-chat-dev-message',
  memoryLimitInMB: '512',
  awsRequestId: 'aws-req-1',
  logGroupName: '/aws/lambda/ws-chat-dev-message',
  logStreamName: '2030/01/01/[$LATEST]abc',
  getRemainingTimeInMillis: () => 29_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

/** What the handler makes of a frame from `connectionId` when it accepts it, or `undefined` when it refuses it. */
export function requestOf(connectionId: string, frame: HostileFrame): ChatRequest | undefined {
  const event = messageEvent(connectionId, frame);
  try {
    return parseInboundFrame(event.body, event.isBase64Encoded, DEFAULT_CONFIG.limits);
  } catch {
    return undefined;
  }
}
