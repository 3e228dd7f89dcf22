import type { BudgetCheck } from '../../src/domain/owner-budget.ts';
import type { Connection, ConnectionChange, ConnectionChanges, MemberPage } from '../../src/domain/connection.ts';
import type { ConnectionRepository, ShardPage } from '../../src/domain/connection-repository.ts';
import type { PresenceRecord } from '../../src/domain/presence.ts';
import type { ConnectionOwners } from '../../src/domain/connection-quota.ts';

/**
 * Delegates to a real repository, except where told to fail: every `save` (with slots or not) or `update`, `remove` or `retire` of chosen ids, or `list`
 * after a number of pages.
 */
export class FailingConnectionRepository implements ConnectionRepository {
  readonly #inner: ConnectionRepository;
  #saveError: Error | undefined;
  #updateError: Error | undefined;
  readonly #removeErrors = new Map<string, Error>();
  #listFailure: { error: Error; afterPages: number } | undefined;

  constructor(inner: ConnectionRepository) {
    this.#inner = inner;
  }

  failSave(error: Error): this {
    this.#saveError = error;
    return this;
  }

  failUpdate(error: Error): this {
    this.#updateError = error;
    return this;
  }

  failRemoveOf(connectionId: string, error: Error): this {
    this.#removeErrors.set(connectionId, error);
    return this;
  }

  /** `list` yields `afterPages` pages of the inner repository, then throws. */
  failList(error: Error, afterPages = 0): this {
    this.#listFailure = { error, afterPages };
    return this;
  }

  async save(connection: Connection, records?: readonly PresenceRecord[]): Promise<void> {
    if (this.#saveError) throw this.#saveError;
    await this.#inner.save(connection, records);
  }

  get takesSlots(): boolean {
    return this.#inner.takesSlots;
  }

  async saveWithSlots(
    connection: Connection,
    records: readonly PresenceRecord[],
    owners: ConnectionOwners,
    budget?: BudgetCheck,
  ): Promise<'saved' | 'owners_full' | 'over_budget'> {
    if (this.#saveError) throw this.#saveError;
    return this.#inner.saveWithSlots(connection, records, owners, budget);
  }

  get(connectionId: string): Promise<Connection | undefined> {
    return this.#inner.get(connectionId);
  }

  async update(
    connectionId: string,
    changes: ConnectionChanges,
    recordsOf?: (change: ConnectionChange) => readonly PresenceRecord[],
  ): Promise<ConnectionChange | undefined> {
    if (this.#updateError) throw this.#updateError;
    return this.#inner.update(connectionId, changes, recordsOf);
  }

  /** Fails as `remove` does for the ids told to: both take a connection out. */
  async retire(
    connectionId: string,
    connectedBefore: Date,
    recordsOf?: (retired: Connection) => readonly PresenceRecord[],
  ): Promise<boolean> {
    const error = this.#removeErrors.get(connectionId);
    if (error) throw error;
    return this.#inner.retire(connectionId, connectedBefore, recordsOf);
  }

  async remove(
    connectionId: string,
    recordsOf?: (connection: Connection) => readonly PresenceRecord[],
  ): Promise<Connection | undefined> {
    const error = this.#removeErrors.get(connectionId);
    if (error) throw error;
    return this.#inner.remove(connectionId, recordsOf);
  }

  async removeWithSlots(
    connectionId: string,
    recordsOf: (connection: Connection) => readonly PresenceRecord[],
    owners: ConnectionOwners,
  ): Promise<{ readonly removed: Connection | undefined; readonly released: boolean }> {
    const error = this.#removeErrors.get(connectionId);
    if (error) throw error;
    return this.#inner.removeWithSlots(connectionId, recordsOf, owners);
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

  async *list(room: string): AsyncIterable<readonly string[]> {
    const failure = this.#listFailure;
    let yielded = 0;
    if (failure && failure.afterPages === 0) throw failure.error;
    for await (const page of this.#inner.list(room)) {
      yield page;
      yielded += 1;
      if (failure && yielded >= failure.afterPages) throw failure.error;
    }
  }
}
