import type { Connection, ConnectionChange, Member } from './connection.ts';

/** Stores the live connections, each in one room, that the chat can deliver to. */
export interface ConnectionRepository {
  save(connection: Connection): Promise<void>;
  /** The stored connection, or `undefined` when it is not stored or has expired. */
  get(connectionId: string): Promise<Connection | undefined>;
  /** Moves a connection to another room and/or renames it in one atomic step; `undefined` if not stored. */
  update(connectionId: string, changes: { room?: string; name?: string }): Promise<ConnectionChange | undefined>;
  /**
   * Takes a connection found gone out of its room: no listing, roster, get or update sees it again, but
   * its record stays for {@link remove}, so the $disconnect that follows can still tell its room it left.
   * Retiring an id that is not stored is not an error.
   */
  retire(connectionId: string): Promise<void>;
  /** Forgets a connection, retired or not, and returns what was stored; an id that is not stored is not an error. */
  remove(connectionId: string): Promise<Connection | undefined>;
  /**
   * Yields the ids of every connection of a room that has not expired, one page at a time, until all are
   * listed. Pages may be empty; an id appears in at most one page. This is the fan-out's hot path: ids only.
   */
  list(room: string): AsyncIterable<readonly string[]>;
  /** Up to `limit` unexpired members of a room with their names, for a roster. */
  members(room: string, limit: number): Promise<readonly Member[]>;
}
