import { type Connection, DEFAULT_ROOM } from './connection.ts';
import type { ConnectionOwners, ConnectionQuota } from './connection-quota.ts';
import type { ConnectionRepository } from './connection-repository.ts';
import { CONNECTION_LIFETIME_MS } from './membership.ts';
import { type BudgetCheck, budgetOwnerOf, type OwnerBudget } from './owner-budget.ts';
import type { PresenceRecord } from './presence.ts';
import type { PresenceFlush } from './presence-flush.ts';
import { joined, left } from './presence-records.ts';

export interface ConnectOptions {
  readonly room?: string;
  readonly name?: string;
  /** The verified user, when the handshake was authenticated; its messages carry it. */
  readonly userId?: string;
  /** The address the handshake came from; connections are capped per address. */
  readonly sourceIp?: string;
}

/** A recorded connection, or the owner whose connection cap refused it (then nothing was stored). */
export type ConnectResult =
  | {
      readonly outcome: 'connected';
      readonly connection: Connection;
      /** Why its room could not be told it joined, when that failed. */
      readonly unannounced?: unknown;
      /** Why its owner's budget could not be charged for it, when that failed. */
      readonly uncharged?: unknown;
    }
  | { readonly outcome: 'user_at_cap' | 'ip_at_cap' | 'over_budget' };

/** What a connect costs its owner's budget, in units of the lightest frame, unless the chat says otherwise. */
export const DEFAULT_CONNECT_WEIGHT = 5;

export interface AdmissionOptions {
  readonly connections: ConnectionRepository;
  /** Caps the connections of each user and each address; without it nothing is capped. */
  readonly quota?: ConnectionQuota;
  /** Each owner's budget, which every connect spends `connectWeight` of; without it, connects are not budgeted. */
  readonly ownerBudget?: OwnerBudget;
  readonly connectWeight?: number;
  readonly presenceFlush: PresenceFlush<unknown>;
  readonly now: () => Date;
}

/**
 * Who may connect, and what a connection holds while it lives: its row and its join, its owners' slots and its
 * spend of their budget, taken at `$connect` and given back at `$disconnect`, all or nothing.
 */
export class Admission {
  readonly #connections: ConnectionRepository;
  readonly #quota: ConnectionQuota | undefined;
  readonly #ownerBudget: OwnerBudget | undefined;
  readonly #connectWeight: number;
  readonly #presenceFlush: PresenceFlush<unknown>;
  readonly #now: () => Date;

  constructor(options: AdmissionOptions) {
    this.#connections = options.connections;
    this.#quota = options.quota;
    this.#ownerBudget = options.ownerBudget;
    this.#connectWeight = options.connectWeight ?? DEFAULT_CONNECT_WEIGHT;
    this.#presenceFlush = options.presenceFlush;
    this.#now = options.now;
  }

  /**
   * Records a new connection in its room and tells the room it joined, unless its user or its address
   * already holds as many connections as its cap allows. Nothing can be sent to it until its handshake
   * completes, but it hears the room from then on, so the room is told now: there are no silent listeners.
   */
  async connect(connectionId: string, options: ConnectOptions = {}): Promise<ConnectResult> {
    const connectedAt = this.#now();
    const connection: Connection = {
      id: connectionId,
      room: options.room ?? DEFAULT_ROOM,
      name: options.name ?? defaultName(connectionId),
      ...(options.userId !== undefined ? { userId: options.userId } : {}),
      connectedAt,
      expiresAt: new Date(connectedAt.getTime() + CONNECTION_LIFETIME_MS),
      revision: 0,
      announced: true,
    };
    const owners: ConnectionOwners = {
      ...(options.userId !== undefined ? { userId: options.userId } : {}),
      ...(options.sourceIp !== undefined ? { sourceIp: options.sourceIp } : {}),
    };
    const owner = this.#ownerBudget === undefined ? undefined : budgetOwnerOf(owners);
    const budget = owner === undefined ? undefined : { owner, weight: this.#connectWeight };
    const stored = await this.#store(connection, owners, budget);
    if (stored === 'over_budget') return { outcome: 'over_budget' };
    if (stored === 'not_stored') {
      // Spent here, before anything is written: a refused connect costs its owner nothing and writes nothing else.
      if (budget !== undefined && (await this.#ownerBudget?.spend(budget.owner, budget.weight)) !== 'allowed') {
        return { outcome: 'over_budget' };
      }
      const claim = (await this.#quota?.claim(connectionId, owners, connection.expiresAt)) ?? 'claimed';
      if (claim !== 'claimed') return { outcome: claim };
      await this.#saveClaimed(connection, owners);
    }
    // A save that checked the budget spends it now, while the room's flush is asked for.
    const [requested, charged] = await Promise.allSettled([
      this.#presenceFlush.requestFor([connection.room]),
      stored === 'saved' && budget !== undefined
        ? this.#ownerBudget?.charge(budget.owner, budget.weight)
        : Promise.resolve(),
    ]);
    // The connection is stored and will hear its room: refusing it now would leave its row behind. Its join is
    // kept, and announced by a flush that whoever reads the room next asks for; the caller logs what went wrong.
    return {
      outcome: 'connected',
      connection,
      ...(requested.status === 'rejected' ? { unannounced: requested.reason as unknown } : {}),
      ...(charged.status === 'rejected' ? { uncharged: charged.reason as unknown } : {}),
    };
  }

  /**
   * Stores the connection, its join, the room's count and its owners' slots in one write, with the check that its
   * owner has the connect's budget left, where the repository can take the slots; `not_stored` when it cannot, or
   * when an owner looked full (its expired and abandoned slots count there: the quota's claim takes them back).
   */
  async #store(
    connection: Connection,
    owners: ConnectionOwners,
    budget: BudgetCheck | undefined,
  ): Promise<'saved' | 'not_stored' | 'over_budget'> {
    if (this.#quota === undefined || !this.#connections.takesSlots) return 'not_stored';
    // An answer lost after the write applied leaves slots held; they are given back as after a failed save.
    const saved = await this.#releasingOnFailure(connection, owners, () =>
      this.#connections.saveWithSlots(connection, joined(connection, connection.connectedAt), owners, budget),
    );
    return saved === 'owners_full' ? 'not_stored' : saved;
  }

  /** Stores a connection whose slots were claimed: the row, its join and the room's count are one write. */
  async #saveClaimed(connection: Connection, owners: ConnectionOwners): Promise<void> {
    // The room is never told of a connection not stored.
    await this.#releasingOnFailure(connection, owners, () =>
      this.#connections.save(connection, joined(connection, connection.connectedAt)),
    );
  }

  /** Runs a save; when it fails, gives the owners' slots back (a connection never stored holds none) and fails. */
  async #releasingOnFailure<T>(connection: Connection, owners: ConnectionOwners, save: () => Promise<T>): Promise<T> {
    try {
      return await save();
    } catch (error) {
      await this.#quota?.release(connection.id, owners).catch((releaseError: unknown) => {
        throw new AggregateError(
          [error, releaseError],
          'saving the connection failed, and so did giving its slots back',
        );
      });
      throw error;
    }
  }

  /**
   * Forgets a closed connection, gives its slots back to its user and address, and tells its room it left.
   * `owners` are as the closing event names them; the user the connection was stored with comes first.
   */
  async disconnect(connectionId: string, owners: ConnectionOwners = {}): Promise<boolean> {
    // The socket is closed whatever happens to its row: its slots are given back even when the removal fails (its
    // row then stays listed, and the first fan-out that finds it gone retires it and announces the leave).
    const release = (userId: string | undefined): Promise<void> =>
      this.#quota?.release(connectionId, { ...owners, ...(userId !== undefined ? { userId } : {}) }) ??
      Promise.resolve();
    // The row's removal, its leave and the room's count are one write (a retired row's leave was kept already), and
    // so is giving its slots back where the repository can take them.
    const recordsOf = (connection: Connection): readonly PresenceRecord[] =>
      left({ ...connection, revision: connection.revision + 1 }, this.#now());
    let removed: Connection | undefined;
    let released = false;
    try {
      if (this.#quota !== undefined && this.#connections.takesSlots) {
        ({ removed, released } = await this.#connections.removeWithSlots(connectionId, recordsOf, owners));
      } else {
        removed = await this.#connections.remove(connectionId, recordsOf);
      }
    } catch (error) {
      await release(owners.userId);
      throw error;
    }
    // The user the connection was stored with comes first; the slots go back while the room's flush is asked for.
    const [releasing, requested] = await Promise.allSettled([
      released ? Promise.resolve() : release(removed?.userId ?? owners.userId),
      removed === undefined ? Promise.resolve() : this.#presenceFlush.requestFor([removed.room]),
    ]);
    if (releasing.status === 'rejected') throw releasing.reason;
    if (requested.status === 'rejected') throw requested.reason;
    return removed !== undefined;
  }
}

/** A readable default name that differs between connections. */
function defaultName(connectionId: string): string {
  return `Guest ${connectionId.replace(/[^A-Za-z0-9]/g, '').slice(-4) || 'anon'}`;
}
