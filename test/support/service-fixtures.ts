import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import { CONNECTION_LIFETIME_MS, ChatService, type ChatServiceOptions } from '../../src/domain/chat-service.ts';
import type { Connection } from '../../src/domain/connection.ts';
import type { ConnectionRepository } from '../../src/domain/connection-repository.ts';
import type { MessageHistory } from '../../src/domain/message-history.ts';
import { InMemoryPresenceLog } from '../../src/adapters/in-memory-presence-log.ts';
import { InMemoryShardProgress } from '../../src/adapters/in-memory-shard-progress.ts';
import type { PresenceLog } from '../../src/domain/presence.ts';
import type { ShardProgress } from '../../src/domain/shard-progress.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { InProcessFanOut } from './in-process-fan-out.ts';

/** The instant the service tests run at: every clock of theirs reads it. */
export const T0 = new Date('2030-01-01T00:00:00.000Z');
export const atT0 = (): Date => T0;
/** When a connection made at T0 expires. */
export const LIFETIME_END = new Date(T0.getTime() + CONNECTION_LIFETIME_MS);

/** Message ids msg-1, msg-2, ... in the order the service asks for them. */
export function sequentialIds(): () => string {
  let next = 0;
  return () => `msg-${++next}`;
}

/** A stored connection named "Name <id>", connected an hour before T0: long past its handshake, so a 410 means gone. */
export function liveRow(
  id: string,
  room = 'lobby',
  options: { expiresAt?: Date; announced?: boolean } = {},
): Connection {
  return {
    id,
    room,
    name: `Name ${id}`,
    connectedAt: new Date(T0.getTime() - 3_600_000),
    expiresAt: options.expiresAt ?? LIFETIME_END,
    revision: 0,
    // Every connection stored since joins are announced at $connect is announced.
    announced: options.announced ?? true,
  };
}

/** An in-memory table at T0 with these connections in `room`, announced to it. */
export async function repositoryWith(
  ids: readonly string[],
  pageSize = 1000,
  room = 'lobby',
): Promise<InMemoryConnectionRepository> {
  const connections = new InMemoryConnectionRepository({ pageSize, now: atT0 });
  for (const id of ids) await connections.save(liveRow(id, room));
  return connections;
}

export interface ServiceOptions {
  readonly concurrency?: number;
  readonly history?: MessageHistory;
  readonly presence?: PresenceLog;
  /** Where presence flushes go; by default one that runs them at once through this service. */
  readonly fanOut?: InProcessFanOut;
  /** 0 (the default here) announces every change at once, one frame each. */
  readonly presenceWindowMs?: number;
  readonly bigRoomSize?: number;
  readonly fanOutShardSize?: number;
  /** Which shard jobs completed; by default a fresh in-memory record. */
  readonly shardProgress?: ShardProgress;
  readonly now?: () => Date;
}

/** The service at T0 over these connections, numbering its messages msg-1, msg-2, ... */
export function serviceOver(
  connections: ConnectionRepository,
  messenger: RecordingMessenger,
  options: ServiceOptions = {},
): ChatService {
  const now = options.now ?? atT0;
  const fanOut = options.fanOut ?? new InProcessFanOut(now);
  const service = new ChatService({
    connections,
    history: options.history ?? new InMemoryMessageHistory(),
    messenger,
    concurrency: options.concurrency ?? 4,
    // The records an in-memory repository keeps with its changes are in its presence log.
    presence: options.presence ?? presenceOf(connections),
    fanOutQueue: fanOut,
    presenceWindowMs: options.presenceWindowMs ?? 0,
    bigRoomSize: options.bigRoomSize ?? 100,
    fanOutShardSize: options.fanOutShardSize ?? 10_000,
    shardProgress: options.shardProgress ?? new InMemoryShardProgress(),
    now,
    newId: sequentialIds(),
  });
  fanOut.attach(service);
  return service;
}

/** A service and the in-memory adapters it runs on. */
export interface Chat {
  readonly connections: InMemoryConnectionRepository;
  readonly history: InMemoryMessageHistory;
  readonly messenger: RecordingMessenger;
  readonly presence: InMemoryPresenceLog;
  readonly service: ChatService;
}

/**
 * A chat at T0 whose members are seated in rooms (`{ kitchen: ['A', 'B'] }`), each named "Name <id>",
 * connected an hour ago and, by default, announced to their rooms, as after their hello.
 */
export async function chatWith(
  rooms: Record<string, readonly string[]>,
  pageSize = 1000,
  announced = true,
): Promise<Chat> {
  const presence = new InMemoryPresenceLog();
  const connections = new InMemoryConnectionRepository({ pageSize, now: atT0, presence });
  for (const [room, ids] of Object.entries(rooms)) {
    for (const id of ids) await connections.save(liveRow(id, room, { announced }));
  }
  const history = new InMemoryMessageHistory();
  const messenger = new RecordingMessenger();
  // Announced members count as the room's members, as if each had joined when it connected.
  for (const [room, ids] of Object.entries(announced ? rooms : {})) {
    for (const id of ids) {
      await presence.record(
        room,
        { event: 'join', connectionId: id, name: `Name ${id}`, rev: 0, at: T0.toISOString() },
        1,
      );
    }
    await presence.forget(
      room,
      (await presence.pending(room, Infinity)).map(({ key }) => key),
    );
  }
  return {
    connections,
    history,
    messenger,
    presence,
    service: serviceOver(connections, messenger, { history, presence }),
  };
}

/** Every connection id a fan-out to the room would reach, sorted. */
export async function listed(connections: ConnectionRepository, room = 'lobby'): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of connections.list(room)) ids.push(...page);
  return ids.sort();
}

/**
 * A ChatService with these options and, unless given, presence kept in memory and flushed at once through
 * this service (window 0: one frame per change, as a test that looks at one change at a time expects).
 */
export function newChatService(
  options: Omit<
    ChatServiceOptions,
    'presence' | 'fanOutQueue' | 'presenceWindowMs' | 'bigRoomSize' | 'fanOutShardSize' | 'shardProgress'
  > &
    Partial<ChatServiceOptions>,
): ChatService {
  const fanOut = options.fanOutQueue === undefined ? new InProcessFanOut(options.now ?? (() => new Date())) : undefined;
  const service = new ChatService({
    presence: presenceOf(options.connections),
    presenceWindowMs: 0,
    bigRoomSize: 100,
    fanOutShardSize: 10_000,
    shardProgress: new InMemoryShardProgress(),
    ...options,
    fanOutQueue: options.fanOutQueue ?? (fanOut as InProcessFanOut),
  });
  fanOut?.attach(service);
  return service;
}

/** The presence log an in-memory repository keeps its records in; a fresh one for any other repository. */
function presenceOf(connections: ConnectionRepository): PresenceLog {
  return connections instanceof InMemoryConnectionRepository ? connections.presence : new InMemoryPresenceLog();
}
