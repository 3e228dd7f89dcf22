import type { Connection } from './connection.ts';

/** Stores the live connections the chat can deliver to. */
export interface ConnectionRepository {
  save(connection: Connection): Promise<void>;
  /** Removing an id that is not stored is not an error. */
  remove(connectionId: string): Promise<void>;
  /**
   * Yields the ids of every connection that has not expired, one page at a time, until all are listed.
   * Pages may be empty; an id may appear in at most one page.
   */
  list(): AsyncIterable<readonly string[]>;
}
