import type { BudgetCheck } from '../../src/domain/owner-budget.ts';
import type { ConnectionOwners } from '../../src/domain/connection-quota.ts';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import type { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import type { Connection, ConnectionChange, ConnectionChanges, MemberPage } from '../../src/domain/connection.ts';
import type { ConnectionRepository, ShardPage } from '../../src/domain/connection-repository.ts';
import type { PresenceRecord } from '../../src/domain/presence.ts';
import type { ServerFrame } from '../../src/domain/frames.ts';
import { loadConfig } from '../../src/handlers/wiring/config.ts';
import { type ChatRequest, parseInboundFrame } from '../../src/handlers/frames/inbound-frame.ts';
import type { RecordingLogger } from '../fakes/recording-logger.ts';
import type { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { harness, type Seating, statusOf } from './handler-harness.ts';
import type { HostileFrame } from './hostile-frames.ts';
import { frameEvent } from './lambda-events.ts';

/** Counts the calls that add or take out connections, so a test can tell that none happened. */
export class WatchedConnectionRepository implements ConnectionRepository {
  readonly calls = { save: 0, retire: 0, remove: 0 };
  readonly #inner: ConnectionRepository;

  constructor(inner: ConnectionRepository) {
    this.#inner = inner;
  }

  save(connection: Connection, records?: readonly PresenceRecord[]): Promise<void> {
    this.calls.save += 1;
    return this.#inner.save(connection, records);
  }

  get takesSlots(): boolean {
    return this.#inner.takesSlots;
  }

  saveWithSlots(
    connection: Connection,
    records: readonly PresenceRecord[],
    owners: ConnectionOwners,
    budget?: BudgetCheck,
  ): Promise<'saved' | 'owners_full' | 'over_budget'> {
    this.calls.save += 1;
    return this.#inner.saveWithSlots(connection, records, owners, budget);
  }

  get(connectionId: string): Promise<Connection | undefined> {
    return this.#inner.get(connectionId);
  }

  update(
    connectionId: string,
    changes: ConnectionChanges,
    recordsOf?: (change: ConnectionChange) => readonly PresenceRecord[],
  ): Promise<ConnectionChange | undefined> {
    return this.#inner.update(connectionId, changes, recordsOf);
  }

  retire(
    connectionId: string,
    connectedBefore: Date,
    recordsOf?: (retired: Connection) => readonly PresenceRecord[],
  ): Promise<boolean> {
    this.calls.retire += 1;
    return this.#inner.retire(connectionId, connectedBefore, recordsOf);
  }

  remove(
    connectionId: string,
    recordsOf?: (connection: Connection) => readonly PresenceRecord[],
  ): Promise<Connection | undefined> {
    this.calls.remove += 1;
    return this.#inner.remove(connectionId, recordsOf);
  }

  removeWithSlots(
    connectionId: string,
    recordsOf: (connection: Connection) => readonly PresenceRecord[],
    owners: ConnectionOwners,
  ): Promise<{ readonly removed: Connection | undefined; readonly released: boolean }> {
    this.calls.remove += 1;
    return this.#inner.removeWithSlots(connectionId, recordsOf, owners);
  }

  list(room: string): AsyncIterable<readonly string[]> {
    return this.#inner.list(room);
  }

  get shards(): number {
    return this.#inner.shards;
  }

  listShard(room: string, shard: number, limit: number, after?: string): Promise<ShardPage> {
    return this.#inner.listShard(room, shard, limit, after);
  }

  members(room: string, limit: number, after?: string): Promise<MemberPage> {
    return this.#inner.members(room, limit, after);
  }
}

/** The production defaults for frame limits, read through the real configuration. */
export const DEFAULT_CONFIG = loadConfig({
  CHAT_TABLE: 'chat-table',
  WEBSOCKET_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:1',
  FANOUT_QUEUE_URL: 'http://127.0.0.1:1/000000000000/fanout',
  PRESENCE_QUEUE_URL: 'http://127.0.0.1:1/000000000000/presence',
});

/** The message handler's whole Middy chain over in-memory adapters, with every frame it sends recorded. */
export interface InMemoryChat {
  readonly connections: WatchedConnectionRepository;
  readonly history: InMemoryMessageHistory;
  readonly messenger: RecordingMessenger;
  readonly logger: RecordingLogger;
  /** Runs one frame from `connectionId` through the handler; returns its status code and what it sent. */
  receive(
    connectionId: string,
    frame: HostileFrame,
  ): Promise<{ statusCode: number | undefined; sent: ReadonlyArray<{ connectionId: string; frame: ServerFrame }> }>;
}

/** The chat with these members seated, at the production frame limits and with no rate limit. */
export async function inMemoryChat(members: Seating): Promise<InMemoryChat> {
  let connections: WatchedConnectionRepository | undefined;
  const h = await harness({
    seating: members,
    limits: DEFAULT_CONFIG.limits,
    // The rate limit has tests of its own; here every frame must reach the parser.
    rateLimit: { frames: Number.MAX_SAFE_INTEGER, windowSeconds: 3600 },
    repository: (table) => (connections = new WatchedConnectionRepository(table)),
  });
  if (connections === undefined) throw new Error('the harness did not wrap its table');
  return {
    connections,
    history: h.history,
    messenger: h.messenger,
    logger: h.logger,
    async receive(connectionId, frame) {
      const before = h.messenger.sent.length;
      const statusCode = statusOf(await h.message(messageEvent(connectionId, frame)));
      return { statusCode, sent: h.messenger.sent.slice(before) };
    },
  };
}

/** A MESSAGE event as API Gateway sends it: binary frames arrive base64-encoded. */
function messageEvent(connectionId: string, frame: HostileFrame): APIGatewayProxyWebsocketEventV2 {
  return frameEvent(connectionId, frame.kind === 'binary' ? frame.bytes : frame.text);
}

/** What the handler makes of a frame from `connectionId` when it accepts it, or `undefined` when it refuses it. */
export function requestOf(connectionId: string, frame: HostileFrame): ChatRequest | undefined {
  const event = messageEvent(connectionId, frame);
  try {
    return parseInboundFrame(event.body, event.isBase64Encoded, DEFAULT_CONFIG.limits);
  } catch {
    return undefined;
  }
}
