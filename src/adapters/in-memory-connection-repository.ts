import type { Connection, ConnectionChange, Member } from '../domain/connection.ts';
import type { ConnectionRepository } from '../domain/connection-repository.ts';

export interface InMemoryConnectionRepositoryOptions {
  /** How many members a page holds; a small value exercises callers' paging. */
  readonly pageSize?: number;
  readonly now?: () => Date;
}

/** Keeps connections in this process's memory: for a single process, and for tests. */
export class InMemoryConnectionRepository implements ConnectionRepository {
  readonly #rows = new Map<string, Connection>();
  readonly #retired = new Set<string>();
  readonly #pageSize: number;
  readonly #now: () => Date;

  constructor(options: InMemoryConnectionRepositoryOptions = {}) {
    this.#pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(this.#pageSize) || this.#pageSize < 1) {
      throw new RangeError(`pageSize must be a positive integer, got ${this.#pageSize}`);
    }
    this.#now = options.now ?? (() => new Date());
  }

  async save(connection: Connection): Promise<void> {
    this.#rows.set(connection.id, connection);
    this.#retired.delete(connection.id);
  }

  async get(connectionId: string): Promise<Connection | undefined> {
    const row = this.#rows.get(connectionId);
    return row !== undefined && this.#live(row) ? row : undefined;
  }

  async update(connectionId: string, changes: { room?: string; name?: string }): Promise<ConnectionChange | undefined> {
    const before = await this.get(connectionId);
    if (before === undefined) return undefined;
    const after: Connection = { ...before, ...definedOnly(changes) };
    this.#rows.set(connectionId, after);
    return { before, after };
  }

  async retire(connectionId: string): Promise<void> {
    if (this.#rows.has(connectionId)) this.#retired.add(connectionId);
  }

  async remove(connectionId: string): Promise<Connection | undefined> {
    const row = this.#rows.get(connectionId);
    this.#rows.delete(connectionId);
    this.#retired.delete(connectionId);
    return row;
  }

  async *list(room: string): AsyncIterable<readonly string[]> {
    // Like a DynamoDB cursor: ids are read in key order from where the last page stopped,
    // so rows removed or moved meanwhile are skipped and no id is listed twice.
    const ids = [...this.#rows.values()].filter((row) => row.room === room).map((row) => row.id).sort();
    for (let start = 0; start < ids.length; start += this.#pageSize) {
      yield ids.slice(start, start + this.#pageSize).filter((id) => {
        const row = this.#rows.get(id);
        return row !== undefined && row.room === room && this.#live(row);
      });
    }
  }

  async members(room: string, limit: number): Promise<readonly Member[]> {
    return [...this.#rows.values()]
      .filter((row) => row.room === room && this.#live(row))
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .slice(0, limit)
      .map((row) => ({ id: row.id, name: row.name }));
  }

  #live(row: Connection): boolean {
    return !this.#retired.has(row.id) && row.expiresAt.getTime() > this.#now().getTime();
  }
}

function definedOnly(changes: { room?: string; name?: string }): { room?: string; name?: string } {
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
}
