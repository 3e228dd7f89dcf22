import type { Connection } from '../domain/connection.ts';
import type { ConnectionRepository } from '../domain/connection-repository.ts';

export interface InMemoryConnectionRepositoryOptions {
  /** How many ids a page holds; a small value exercises callers' paging. */
  readonly pageSize?: number;
  readonly now?: () => Date;
}

/** Keeps connections in this process's memory: for a single process, and for tests. */
export class InMemoryConnectionRepository implements ConnectionRepository {
  readonly #rows = new Map<string, Connection>();
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
  }

  async remove(connectionId: string): Promise<void> {
    this.#rows.delete(connectionId);
  }

  async *list(): AsyncIterable<readonly string[]> {
    // Like a DynamoDB cursor: ids are read in key order from where the last page stopped,
    // so rows removed meanwhile are skipped and no id is listed twice.
    const ids = [...this.#rows.keys()].sort();
    for (let start = 0; start < ids.length; start += this.#pageSize) {
      const now = this.#now().getTime();
      const page = ids.slice(start, start + this.#pageSize).filter((id) => {
        const row = this.#rows.get(id);
        return row !== undefined && row.expiresAt.getTime() > now;
      });
      yield page;
    }
  }
}
