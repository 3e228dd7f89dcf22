/**
 * In-memory implementations of the domain's storage ports for the fan-out bench. The project's in-memory
 * adapter is being reworked for rooms at the same time as this bench, so the bench carries its own, with
 * the same paging semantics: ids in key order, one page of `pageSize` at a time, expired rows skipped.
 */
import type { Connection, ConnectionChange, Member } from '../src/domain/connection.ts';
import type { ConnectionRepository } from '../src/domain/connection-repository.ts';
import type { ChatMessage } from '../src/domain/frames.ts';
import type { MessageHistory, NewMessage } from '../src/domain/message-history.ts';

/** Connections in a Map, listed a page at a time like a DynamoDB Query. */
export class PagedMemoryConnections implements ConnectionRepository {
  readonly #rows = new Map<string, Connection>();
  readonly #pageSize: number;

  constructor(pageSize: number) {
    this.#pageSize = pageSize;
  }

  async save(connection: Connection): Promise<void> {
    this.#rows.set(connection.id, connection);
  }

  async get(connectionId: string): Promise<Connection | undefined> {
    const row = this.#rows.get(connectionId);
    return row !== undefined && row.expiresAt.getTime() > Date.now() ? row : undefined;
  }

  async update(connectionId: string, changes: { room?: string; name?: string }): Promise<ConnectionChange | undefined> {
    const before = this.#rows.get(connectionId);
    if (before === undefined) return undefined;
    const after = { ...before, ...changes };
    this.#rows.set(connectionId, after);
    return { before, after };
  }

  async remove(connectionId: string): Promise<Connection | undefined> {
    const row = this.#rows.get(connectionId);
    this.#rows.delete(connectionId);
    return row;
  }

  async *list(room: string): AsyncIterable<readonly Member[]> {
    const ids = [...this.#rows.keys()].sort();
    for (let start = 0; start < ids.length; start += this.#pageSize) {
      const now = Date.now();
      const page: Member[] = [];
      for (const id of ids.slice(start, start + this.#pageSize)) {
        const row = this.#rows.get(id);
        if (row !== undefined && row.room === room && row.expiresAt.getTime() > now) page.push({ id, name: row.name });
      }
      yield page;
    }
  }
}

/** Numbers messages per room and keeps the last few. */
export class MemoryHistory implements MessageHistory {
  readonly #rooms = new Map<string, ChatMessage[]>();

  async append(message: NewMessage): Promise<ChatMessage> {
    const kept = this.#rooms.get(message.room) ?? [];
    const numbered: ChatMessage = { ...message, seq: (kept[kept.length - 1]?.seq ?? 0) + 1 };
    kept.push(numbered);
    if (kept.length > 50) kept.shift();
    this.#rooms.set(message.room, kept);
    return numbered;
  }

  async recent(room: string): Promise<readonly ChatMessage[]> {
    return this.#rooms.get(room) ?? [];
  }
}
