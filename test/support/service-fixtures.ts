import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import { CONNECTION_LIFETIME_MS, ChatService } from '../../src/domain/chat-service.ts';
import type { Connection } from '../../src/domain/connection.ts';
import type { ConnectionRepository } from '../../src/domain/connection-repository.ts';
import type { MessageHistory } from '../../src/domain/message-history.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';

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
    announced: options.announced ?? false,
  };
}

/** An in-memory table at T0 with these connections in `room`, not yet announced to it. */
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
}

/** The service at T0 over these connections, numbering its messages msg-1, msg-2, ... */
export function serviceOver(
  connections: ConnectionRepository,
  messenger: RecordingMessenger,
  options: ServiceOptions = {},
): ChatService {
  return new ChatService({
    connections,
    history: options.history ?? new InMemoryMessageHistory(),
    messenger,
    concurrency: options.concurrency ?? 4,
    now: atT0,
    newId: sequentialIds(),
  });
}

/** A service and the in-memory adapters it runs on. */
export interface Chat {
  readonly connections: InMemoryConnectionRepository;
  readonly history: InMemoryMessageHistory;
  readonly messenger: RecordingMessenger;
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
  const connections = new InMemoryConnectionRepository({ pageSize, now: atT0 });
  for (const [room, ids] of Object.entries(rooms)) {
    for (const id of ids) await connections.save(liveRow(id, room, { announced }));
  }
  const history = new InMemoryMessageHistory();
  const messenger = new RecordingMessenger();
  return { connections, history, messenger, service: serviceOver(connections, messenger, { history }) };
}

/** Every connection id a fan-out to the room would reach, sorted. */
export async function listed(connections: ConnectionRepository, room = 'lobby'): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of connections.list(room)) ids.push(...page);
  return ids.sort();
}
