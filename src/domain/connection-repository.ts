import type { BudgetCheck } from './owner-budget.ts';
import type { Connection, ConnectionChange, ConnectionChanges, MemberPage } from './connection.ts';
import type { ConnectionOwners } from './connection-quota.ts';
import type { PresenceRecord } from './presence.ts';

/** One page of one shard of a room's listing; `next` asks for the page after it, absent on the last. */
export interface ShardPage {
  readonly ids: readonly string[];
  readonly next?: string;
}

/**
 * Stores the live connections, each in one room, that the chat can deliver to. Every write that changes a room's
 * membership takes the presence records it causes and keeps them, and moves the rooms' member counts, in the
 * same atomic step: all of it applies or none does, and a write replayed after its answer was lost applies once.
 */
export interface ConnectionRepository {
  /**
   * How many shards a room's listing is split into at most (`shardOf` of a connection's id): every member of a
   * room is in exactly one, so that a huge room is listed in parallel and no partition holds all of it. An adapter
   * may keep a small room in shard 0 only.
   */
  readonly shards: number;
  /**
   * Stores a new connection and keeps `records` with it. Saving an id that is stored already throws, unless it is
   * this very save replayed (then it succeeds and changes nothing).
   */
  save(connection: Connection, records?: readonly PresenceRecord[]): Promise<void>;
  /**
   * Whether {@link saveWithSlots} can take the connection's quota slots in the same atomic step as its save (a
   * repository built with the quota's store); when false, slots are claimed from the quota first.
   */
  readonly takesSlots: boolean;
  /**
   * Stores a new connection with its records and takes one slot of each of its owners, all in one atomic step, as
   * {@link save} and `ConnectionQuota.claim` would one after the other. `owners_full` (nothing stored, no slot
   * taken) when an owner holds as many slots as its cap, counting expired and abandoned ones: the quota's own claim
   * takes those back. With `budget`, `over_budget` (nothing stored, no slot taken) when its owner has fewer units of
   * its budget left than the check's weight; the save spends none of them. A replay of this very save succeeds and
   * changes nothing.
   */
  saveWithSlots(
    connection: Connection,
    records: readonly PresenceRecord[],
    owners: ConnectionOwners,
    budget?: BudgetCheck,
  ): Promise<'saved' | 'owners_full' | 'over_budget'>;
  /** The stored connection, or `undefined` when it is not stored or has expired. */
  get(connectionId: string): Promise<Connection | undefined>;
  /**
   * Applies the changes in one atomic step on top of the connection as it is now, and returns it before and
   * after; `undefined` if not stored. A change that changes nothing writes nothing and returns `before`
   * equal to `after`. Each applied change raises the revision by one. Concurrent updates never both apply
   * to the same revision: one of them is applied on top of the other. Throws a `ConcurrentChangeError`
   * only when other changes kept winning for longer than it is worth retrying. `recordsOf` names the presence
   * records the change causes, kept with it when it applies (asked again when it is made again on top of another).
   */
  update(
    connectionId: string,
    changes: ConnectionChanges,
    recordsOf?: (change: ConnectionChange) => readonly PresenceRecord[],
  ): Promise<ConnectionChange | undefined>;
  /**
   * Takes a connection found gone out of its room: no listing, roster, get or update sees it again, its revision
   * is raised by one, and `recordsOf` (given the connection as retired) names the records kept with it, so the
   * room hears it leave and stops counting it even when its $disconnect never comes. Its row stays until
   * {@link remove}. A connection that connected at or after `connectedBefore` is kept (`false`): API Gateway
   * answers 410 for a connection still in its handshake. Retiring an id that is not stored, or retired, is `false`.
   */
  retire(
    connectionId: string,
    connectedBefore: Date,
    recordsOf?: (retired: Connection) => readonly PresenceRecord[],
  ): Promise<boolean>;
  /**
   * Forgets a connection, retired or not, and returns it as it was last (its revision included), keeping the
   * records `recordsOf` names for it unless it was retired (its retirement kept those). When removals or updates
   * race, exactly one removal applies; the others, and any removal of an id that is not stored, return `undefined`.
   */
  remove(
    connectionId: string,
    recordsOf?: (connection: Connection) => readonly PresenceRecord[],
  ): Promise<Connection | undefined>;
  /**
   * Forgets a connection as {@link remove} does and, in the same atomic step, gives back its slot of each owner (the
   * user it was stored with in place of `owners.userId`): only when {@link takesSlots}. `released` is false when the
   * slots may not have been given back here (nothing was stored, or an owner did not hold its slot): the caller then
   * releases them through the quota, which changes nothing for a slot not held.
   */
  removeWithSlots(
    connectionId: string,
    recordsOf: (connection: Connection) => readonly PresenceRecord[],
    owners: ConnectionOwners,
  ): Promise<{ readonly removed: Connection | undefined; readonly released: boolean }>;
  /**
   * Yields the ids of every connection of a room that has not expired, one page at a time, until all are
   * listed. Pages may be empty; an id appears in at most one page. This is the fan-out's hot path: ids only.
   */
  list(room: string): AsyncIterable<readonly string[]>;
  /**
   * Up to `limit` ids of one shard of a room's unexpired members, after `after` (the `next` of the page
   * before), in a stable order. Throws an `InvalidCursorError` for an `after` it did not give.
   */
  listShard(room: string, shard: number, limit: number, after?: string): Promise<ShardPage>;
  /**
   * Up to `limit` unexpired members of a room with their names, for a roster, in a stable order; `after` is
   * the `next` of the page before. Throws an `InvalidCursorError` for an `after` it did not give.
   */
  members(room: string, limit: number, after?: string): Promise<MemberPage>;
}
