import { InMemoryOwnerBudget } from '../../src/adapters/in-memory-owner-budget.ts';
import type { OwnerBudgetLimit } from '../../src/domain/owner-budget.ts';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { InMemoryConnectionQuota } from '../../src/adapters/in-memory-connection-quota.ts';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryFanOutQueue } from '../../src/adapters/in-memory-fan-out-queue.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import { InMemoryPresenceLog } from '../../src/adapters/in-memory-presence-log.ts';
import { InMemoryShardProgress } from '../../src/adapters/in-memory-shard-progress.ts';
import { InProcessFanOut } from './in-process-fan-out.ts';
import { InMemoryRateLimiter } from '../../src/adapters/in-memory-rate-limiter.ts';
import { ChatService } from '../../src/domain/chat-service.ts';
import type { ConnectionCaps } from '../../src/domain/connection-quota.ts';
import type { ConnectionRepository } from '../../src/domain/connection-repository.ts';
import type { RateLimit } from '../../src/domain/rate-limiter.ts';
import type { FrameLimits } from '../../src/handlers/frames/inbound-frame.ts';
import type { WebSocketResult } from '../../src/handlers/frames/websocket-event.ts';
import { createConnectHandler } from '../../src/handlers/functions/connect.ts';
import { createDisconnectHandler } from '../../src/handlers/functions/disconnect.ts';
import { createMessageHandler } from '../../src/handlers/functions/message.ts';
import { createPublishHandler } from '../../src/handlers/functions/publish.ts';
import type { HttpApiEvent, HttpApiResult } from '../../src/handlers/frames/http-request.ts';
import { ConfigError } from '../../src/handlers/wiring/config.ts';
import type { Dependencies, DependencyProvider } from '../../src/handlers/wiring/dependencies.ts';
import { RecordingLogger } from '../fakes/recording-logger.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { RecordingMetrics } from '../fakes/recording-metrics.ts';
import { lambdaContext } from './lambda-events.ts';

/** Who is connected where before the test acts: ids, each with a name of its own or "Name <id>". */
export type Seating = ReadonlyArray<{ readonly id: string; readonly room: string; readonly name?: string }>;

export interface HarnessOptions {
  readonly chatMode?: Dependencies['chatMode'];
  /** Who is connected where (`{ kitchen: ['A', 'B'] }`, each named "Name <id>"); by default A, B and C in the lobby. */
  readonly rooms?: Record<string, readonly string[]>;
  /** Who is connected where, with their names; instead of `rooms`. */
  readonly seating?: Seating;
  /** Wraps the in-memory table the handlers use, to watch it or to make some of its calls fail. */
  readonly repository?: (table: InMemoryConnectionRepository) => ConnectionRepository;
  readonly rateLimit?: RateLimit;
  readonly authMode?: Dependencies['authMode'];
  readonly allowedOrigins?: readonly string[];
  /** Frame limits; by default small ones (256-byte frames, 64-byte texts), so that a test can cross them cheaply. */
  readonly limits?: FrameLimits;
  /** Caps on the connections of each user and each address; nothing is capped without them. */
  readonly caps?: ConnectionCaps;
  /** What each owner (user, else address) may send per window, each connect costing `connectWeight`; unbudgeted without. */
  readonly ownerLimit?: OwnerBudgetLimit;
  readonly connectWeight?: number;
  /** What each caller of the publish API may ask per window; unbudgeted without. */
  readonly publishLimit?: OwnerBudgetLimit;
}

/** The three WebSocket handlers' whole Middy chains over in-memory adapters, with what they send, log and count. */
export interface Harness {
  /** The in-memory table itself, unwrapped. */
  readonly connections: InMemoryConnectionRepository;
  readonly history: InMemoryMessageHistory;
  readonly messenger: RecordingMessenger;
  readonly logger: RecordingLogger;
  readonly metrics: RecordingMetrics;
  readonly deps: DependencyProvider;
  connect(event: APIGatewayProxyWebsocketEventV2): Promise<WebSocketResult>;
  disconnect(event: APIGatewayProxyWebsocketEventV2): Promise<WebSocketResult>;
  message(event: APIGatewayProxyWebsocketEventV2): Promise<WebSocketResult>;
  /** The publish API's handler; its result as API Gateway would answer it. */
  publish(event: HttpApiEvent): Promise<HttpApiResult>;
}

/** The rate limiter's clock stands still, so every frame of a test falls in one window. */
const T_RATE = new Date('2030-01-01T00:00:05.000Z');

export async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const presence = new InMemoryPresenceLog();
  const connections = new InMemoryConnectionRepository({ pageSize: 2, presence });
  const history = new InMemoryMessageHistory();
  const messenger = new RecordingMessenger();
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  // Connected an hour ago: long past their handshakes, so a 410 means gone. Their joins are counted, not announced.
  const seating = new ChatService({
    connections,
    history,
    messenger,
    concurrency: 4,
    presence,
    fanOutQueue: new InMemoryFanOutQueue(),
    presenceWindowMs: 0,
    bigRoomSize: 100,
    fanOutShardSize: 10_000,
    shardProgress: new InMemoryShardProgress(),
    now: () => new Date(Date.now() - 3_600_000),
  });
  const seated: Seating =
    options.seating ??
    Object.entries(options.rooms ?? { lobby: ['A', 'B', 'C'] }).flatMap(([room, ids]) =>
      ids.map((id) => ({ id, room })),
    );
  for (const { id, room, name } of seated) await seating.connect(id, { room, name: name ?? `Name ${id}` });
  for (const room of new Set(seated.map(({ room }) => room))) {
    await presence.forget(
      room,
      (await presence.pending(room, Infinity)).map(({ key }) => key),
    );
  }
  const fanOut = new InProcessFanOut(() => new Date());
  const rateLimit = options.rateLimit ?? { frames: 1000, windowSeconds: 10 };
  const ownerBudget =
    options.ownerLimit === undefined ? undefined : new InMemoryOwnerBudget(options.ownerLimit, () => T_RATE);
  const publishBudget =
    options.publishLimit === undefined ? undefined : new InMemoryOwnerBudget(options.publishLimit, () => T_RATE);
  const built: Dependencies = {
    service: new ChatService({
      connections: options.repository?.(connections) ?? connections,
      history,
      messenger,
      concurrency: 4,
      ...(options.caps === undefined ? {} : { quota: new InMemoryConnectionQuota(options.caps) }),
      ...(ownerBudget === undefined ? {} : { ownerBudget }),
      ...(options.connectWeight === undefined ? {} : { connectWeight: options.connectWeight }),
      presence,
      fanOutQueue: fanOut,
      presenceWindowMs: 0,
      bigRoomSize: 100,
      fanOutShardSize: 10_000,
      shardProgress: new InMemoryShardProgress(),
    }),
    chatMode: options.chatMode ?? 'broadcast',
    authMode: options.authMode ?? 'none',
    allowedOrigins: options.allowedOrigins ?? [],
    limits: options.limits ?? { maxFrameBytes: 256, maxTextBytes: 64 },
    logger,
    metrics,
    rateLimiter: new InMemoryRateLimiter(rateLimit, () => T_RATE),
    rateLimit,
    ...(ownerBudget === undefined || options.ownerLimit === undefined
      ? {}
      : { ownerBudget: { budget: ownerBudget, limit: options.ownerLimit } }),
    ...(publishBudget === undefined || options.publishLimit === undefined
      ? {}
      : { publishBudget: { budget: publishBudget, limit: options.publishLimit } }),
    fanOutQueue: fanOut,
  };
  fanOut.attach(built.service);
  const deps = (): Dependencies => built;
  const connect = createConnectHandler(deps);
  const disconnect = createDisconnectHandler(deps);
  const message = createMessageHandler(deps);
  const publish = createPublishHandler(deps);
  return {
    connections,
    history,
    messenger,
    logger,
    metrics,
    deps,
    connect: (event) => connect(event, lambdaContext('connect')),
    disconnect: (event) => disconnect(event, lambdaContext('disconnect')),
    message: (event) => message(event, lambdaContext('message')),
    publish: (event) => publish(event, lambdaContext('publish')),
  };
}

/** Dependencies that cannot be built, as when a setting is missing at cold start. */
export const unbuildable: DependencyProvider = () => {
  throw new ConfigError('invalid configuration: CHAT_TABLE: required');
};

/** The status code of a handler's result. */
export function statusOf(result: WebSocketResult | undefined): number | undefined {
  return typeof result === 'object' && result !== null ? result.statusCode : undefined;
}

/** A server-side detail that must never reach a client: the message of the failures tests provoke. */
export const SECRET_DETAIL = 'arn:aws:dynamodb:eu-west-1:123456789012:table/chat-table is throttled';

/** Looks for anything in a client-visible value that only a server error would carry. */
export function leaksDetail(value: unknown): boolean {
  const text = JSON.stringify(value) ?? '';
  return text.includes(SECRET_DETAIL) || /\bat .+:\d+|stack/i.test(text);
}
