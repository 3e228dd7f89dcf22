import type { BudgetCheck } from '../domain/owner-budget.ts';
import type { InMemoryOwnerBudget } from './in-memory-owner-budget.ts';
import type { Connection, ConnectionChange, ConnectionChanges, MemberPage } from '../domain/connection.ts';
import type { ConnectionRepository, ShardPage } from '../domain/connection-repository.ts';
import { shardOf } from '../domain/room-shards.ts';
import { InvalidCursorError } from '../domain/errors.ts';
import type { PresenceRecord } from '../domain/presence.ts';
import { InMemoryPresenceLog } from './in-memory-presence-log.ts';
import type { InMemoryConnectionQuota } from './in-memory-connection-quota.ts';
import type { ConnectionOwners } from '../domain/connection-quota.ts';

/** Roster cursors name the page's last member after this prefix. */
const CURSOR_PREFIX = 'after:';

export interface InMemoryConnectionRepositoryOptions {
  /** How many members a page holds; a small value exercises callers' paging. */
  readonly pageSize?: number;
  /** How many shards each room's listing is split into (1 by default). */
  readonly shards?: number;
  readonly now?: () => Date;
  /** Where the presence records written with connection changes are kept; by default a log of its own. */
  readonly presence?: InMemoryPresenceLog;
  /** The quota whose slots {@link InMemoryConnectionRepository.saveWithSlots} takes with the save; without it, none. */
  readonly quota?: InMemoryConnectionQuota;
  /** The owners' budgets that {@link InMemoryConnectionRepository.saveWithSlots} checks with the save. */
  readonly ownerBudget?: InMemoryOwnerBudget;
}

/** Keeps connections in this process's memory: for a single process, and for tests. */
export class InMemoryConnectionRepository implements ConnectionRepository {
  readonly #rows = new Map<string, Connection>();
  readonly #retired = new Set<string>();
  readonly #pageSize: number;
  readonly #now: () => Date;
  readonly shards: number;
  /** The presence log that the records written with connection changes go to. */
  readonly presence: InMemoryPresenceLog;
  readonly takesSlots: boolean;
  readonly #quota: InMemoryConnectionQuota | undefined;
  readonly #ownerBudget: InMemoryOwnerBudget | undefined;

  constructor(options: InMemoryConnectionRepositoryOptions = {}) {
    this.shards = options.shards ?? 1;
    this.presence = options.presence ?? new InMemoryPresenceLog();
    this.#quota = options.quota;
    this.#ownerBudget = options.ownerBudget;
    this.takesSlots = options.quota !== undefined;
    this.#pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(this.#pageSize) || this.#pageSize < 1) {
      throw new RangeError(`pageSize must be a positive integer, got ${this.#pageSize}`);
    }
    this.#now = options.now ?? (() => new Date());
  }

  async save(connection: Connection, records: readonly PresenceRecord[] = []): Promise<void> {
    if (this.#rows.has(connection.id)) throw new Error(`connection ${connection.id} is stored already`);
    this.#rows.set(connection.id, connection);
    this.presence.keep(records);
  }

  async saveWithSlots(
    connection: Connection,
    records: readonly PresenceRecord[],
    owners: ConnectionOwners,
    budget?: BudgetCheck,
  ): Promise<'saved' | 'owners_full' | 'over_budget'> {
    if (this.#quota === undefined) throw new Error('this repository was built without the quota: it takes no slots');
    if (this.#rows.has(connection.id)) throw new Error(`connection ${connection.id} is stored already`);
    // Checked, taken and stored with no await between them: one atomic step.
    if (budget !== undefined) {
      if (this.#ownerBudget === undefined) throw new Error("this repository was built without the owners' budgets");
      if (!this.#ownerBudget.allows(budget)) return 'over_budget';
    }
    if (!this.#quota.takeAtOnce(connection.id, owners, connection.expiresAt)) return 'owners_full';
    this.#rows.set(connection.id, connection);
    this.presence.keep(records);
    return 'saved';
  }

  async get(connectionId: string): Promise<Connection | undefined> {
    return this.#liveRow(connectionId);
  }

  async update(
    connectionId: string,
    changes: ConnectionChanges,
    recordsOf: (change: ConnectionChange) => readonly PresenceRecord[] = () => [],
  ): Promise<ConnectionChange | undefined> {
    // Read and write with no await between them: concurrent updates apply one on top of the other.
    const before = this.#liveRow(connectionId);
    if (before === undefined) return undefined;
    const changed = { ...before, ...definedOnly(changes) };
    if (changed.room === before.room && changed.name === before.name && changed.announced === before.announced) {
      return { before, after: before };
    }
    const after: Connection = { ...changed, revision: before.revision + 1 };
    this.#rows.set(connectionId, after);
    this.presence.keep(recordsOf({ before, after }));
    return { before, after };
  }

  async retire(
    connectionId: string,
    connectedBefore: Date,
    recordsOf: (retired: Connection) => readonly PresenceRecord[] = () => [],
  ): Promise<boolean> {
    const row = this.#rows.get(connectionId);
    if (row === undefined || this.#retired.has(connectionId)) return false;
    if (row.connectedAt.getTime() >= connectedBefore.getTime()) return false;
    const retired = { ...row, revision: row.revision + 1 };
    this.#rows.set(connectionId, retired);
    this.#retired.add(connectionId);
    this.presence.keep(recordsOf(retired));
    return true;
  }

  async remove(
    connectionId: string,
    recordsOf: (connection: Connection) => readonly PresenceRecord[] = () => [],
  ): Promise<Connection | undefined> {
    return this.#removeNow(connectionId, recordsOf);
  }

  #removeNow(
    connectionId: string,
    recordsOf: (connection: Connection) => readonly PresenceRecord[],
  ): Connection | undefined {
    const row = this.#rows.get(connectionId);
    if (row === undefined) return undefined;
    // A retired connection's leave was kept when it was retired.
    if (!this.#retired.has(connectionId)) this.presence.keep(recordsOf(row));
    this.#rows.delete(connectionId);
    this.#retired.delete(connectionId);
    return row;
  }

  async removeWithSlots(
    connectionId: string,
    recordsOf: (connection: Connection) => readonly PresenceRecord[],
    owners: ConnectionOwners,
  ): Promise<{ removed: Connection | undefined; released: boolean }> {
    if (this.#quota === undefined) throw new Error('this repository was built without the quota: it takes no slots');
    // Removed and released with no await between them: one atomic step.
    const removed = this.#removeNow(connectionId, recordsOf);
    if (removed === undefined) return { removed, released: false };
    this.#quota.releaseAtOnce(connectionId, {
      ...owners,
      ...(removed.userId !== undefined ? { userId: removed.userId } : {}),
    });
    return { removed, released: true };
  }

  async *list(room: string): AsyncIterable<readonly string[]> {
    // Like a DynamoDB cursor: ids are read in key order from where the last page stopped,
    // so rows removed or moved meanwhile are skipped and no id is listed twice.
    const ids = [...this.#rows.values()]
      .filter((row) => row.room === room)
      .map((row) => row.id)
      .sort();
    for (let start = 0; start < ids.length; start += this.#pageSize) {
      yield ids.slice(start, start + this.#pageSize).filter((id) => {
        const row = this.#rows.get(id);
        return row !== undefined && row.room === room && this.#live(row);
      });
    }
  }

  async listShard(room: string, shard: number, limit: number, after?: string): Promise<ShardPage> {
    const { rows, next } = this.#page(room, limit, after, (row) => shardOf(row.id, this.shards) === shard);
    return { ids: rows.map((row) => row.id), ...(next !== undefined ? { next } : {}) };
  }

  async members(room: string, limit: number, after?: string): Promise<MemberPage> {
    const { rows, next } = this.#page(room, limit, after, () => true);
    return {
      members: rows.map((row) => ({
        id: row.id,
        name: row.name,
        ...(row.userId !== undefined ? { userId: row.userId } : {}),
        revision: row.revision,
      })),
      ...(next !== undefined ? { next } : {}),
    };
  }

  /** Up to `limit` live rows of a room that `also` keeps, in id order after the cursor `after`, and the next cursor. */
  #page(
    room: string,
    limit: number,
    after: string | undefined,
    also: (row: Connection) => boolean,
  ): { rows: Connection[]; next?: string } {
    if (after !== undefined && !after.startsWith(CURSOR_PREFIX)) throw new InvalidCursorError(after);
    const afterId = after?.slice(CURSOR_PREFIX.length);
    const rows = [...this.#rows.values()]
      .filter((row) => row.room === room && this.#live(row) && also(row) && (afterId === undefined || row.id > afterId))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { rows: page, ...(rows.length > limit && last !== undefined ? { next: CURSOR_PREFIX + last.id } : {}) };
  }

  #liveRow(connectionId: string): Connection | undefined {
    const row = this.#rows.get(connectionId);
    return row !== undefined && this.#live(row) ? row : undefined;
  }

  #live(row: Connection): boolean {
    return !this.#retired.has(row.id) && row.expiresAt.getTime() > this.#now().getTime();
  }
}

function definedOnly(changes: ConnectionChanges): ConnectionChanges {
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
}
