import { type Connection, type ConnectionChange, type ConnectionChanges, DEFAULT_ROOM } from './connection.ts';
import type { ConnectionOwners, ConnectionQuota } from './connection-quota.ts';
import type { ConnectionRepository } from './connection-repository.ts';
import { type BudgetCheck, budgetOwnerOf, type OwnerBudget } from './owner-budget.ts';
import { UnknownConnectionError } from './errors.ts';
import type { ServerFrame } from './frames.ts';
import type { MessageHistory, ReplayPoint } from './message-history.ts';
import type { DeliveryOutcome, Messenger } from './messenger.ts';
import type { PresenceLog, PresenceRecord } from './presence.ts';
import type { PresenceFlush } from './presence-flush.ts';
import { changed, joined, left } from './presence-records.ts';
import { HANDSHAKE_GRACE_MS } from './room-fan-out.ts';

/** API Gateway's hard cap on a WebSocket connection's life, plus a margin for clock skew and late $disconnects. */
export const CONNECTION_LIFETIME_MS = 2 * 60 * 60 * 1000 + 15 * 60 * 1000;

/**
 * A roster page names at most this many members. Each name is an item read by its key (half a read unit however
 * small), so a page costs about half a unit per member: `who`'s rate weight pays for a page of this size at no more
 * read units per unit of weight than a message (bench/read-units.ts).
 */
export const ROSTER_PAGE_SIZE = 25;

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

export interface MembershipOptions {
  readonly connections: ConnectionRepository;
  readonly history: MessageHistory;
  readonly messenger: Messenger;
  readonly quota?: ConnectionQuota;
  /** Each owner's budget, which every connect spends `connectWeight` of; without it, connects are not budgeted. */
  readonly ownerBudget?: OwnerBudget;
  readonly connectWeight?: number;
  readonly presence: PresenceLog;
  readonly presenceFlush: PresenceFlush<unknown>;
  readonly now: () => Date;
}

/**
 * Who is connected where: connections come and go, move between rooms and change names, each change written with
 * the presence records it causes (all or nothing), and each member is welcomed to its room with its history.
 */
export class Membership {
  readonly #connections: ConnectionRepository;
  readonly #history: MessageHistory;
  readonly #messenger: Messenger;
  readonly #quota: ConnectionQuota | undefined;
  readonly #ownerBudget: OwnerBudget | undefined;
  readonly #connectWeight: number;
  readonly #presence: PresenceLog;
  readonly #presenceFlush: PresenceFlush<unknown>;
  readonly #now: () => Date;

  constructor(options: MembershipOptions) {
    this.#connections = options.connections;
    this.#history = options.history;
    this.#messenger = options.messenger;
    this.#quota = options.quota;
    this.#ownerBudget = options.ownerBudget;
    this.#connectWeight = options.connectWeight ?? DEFAULT_CONNECT_WEIGHT;
    this.#presence = options.presence;
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

  /**
   * The first frame after the socket opens: tells the caller who and where it is and replays the room's
   * history (from `from` when the caller saw messages before). Its room was told it joined at $connect;
   * repeating hello replays again and announces nothing.
   */
  async hello(connectionId: string, from?: ReplayPoint): Promise<DeliveryOutcome> {
    // Only a connection stored before joins were announced at $connect is still unannounced here: its join is
    // kept with the change, and its flush asked for once it is welcomed, so it hears its welcome first.
    const { change, rooms } = await this.#update(connectionId, { announced: true });
    const welcomed = await this.#welcome(change.after, from);
    await this.#presenceFlush.requestFor(rooms);
    return welcomed;
  }

  /**
   * Moves the caller to another room: the old room hears it leave, the new one hears it join. Joining the
   * room it is in already only welcomes it again.
   */
  async join(connectionId: string, room: string, from?: ReplayPoint): Promise<DeliveryOutcome> {
    // The move, the old room's leave and the new room's join are one write; the rooms' flushes are asked for
    // before the welcome, so that a join whose request failed is refused before the member is told it is in:
    // welcomed and then refused, a page would take itself for where it was.
    const { change, rooms } = await this.#update(connectionId, { room, announced: true });
    await this.#presenceFlush.requestFor(rooms);
    return this.#welcome(change.after, from);
  }

  /** Leaving a room returns the caller to the lobby. */
  leave(connectionId: string): Promise<DeliveryOutcome> {
    return this.join(connectionId, DEFAULT_ROOM);
  }

  /** Changes the caller's display name and tells its room. */
  async rename(connectionId: string, name: string): Promise<void> {
    const { rooms } = await this.#update(connectionId, { name });
    await this.#presenceFlush.requestFor(rooms);
  }

  /** Sends the caller one page of its room's roster: the first, or the one after `cursor`. */
  async who(connectionId: string, cursor?: string): Promise<DeliveryOutcome> {
    const connection = await this.require(connectionId);
    const [page, clock] = await Promise.all([
      this.#connections.members(connection.room, ROSTER_PAGE_SIZE, cursor),
      this.#presence.clock(connection.room),
    ]);
    const members = page.members.map(({ id, name, userId, revision }) => ({
      connectionId: id,
      name,
      ...(userId !== undefined ? { userId } : {}),
      rev: revision,
    }));
    await this.#presenceFlush.resumeLost(connection.room, clock);
    return this.sendOrForget(connectionId, {
      type: 'roster',
      room: connection.room,
      members,
      count: clock.members,
      ...(page.next !== undefined ? { next: page.next } : {}),
    });
  }

  async require(connectionId: string): Promise<Connection> {
    const connection = await this.#connections.get(connectionId);
    if (connection === undefined) throw new UnknownConnectionError(connectionId);
    return connection;
  }

  async #welcome(connection: Connection, from: ReplayPoint | undefined): Promise<DeliveryOutcome> {
    const [replay, clock] = await Promise.all([
      this.#history.recent(connection.room, from),
      this.#presence.clock(connection.room),
    ]);
    const { id: connectionId, room, name, revision: rev } = connection;
    await this.#presenceFlush.resumeLost(room, clock);
    const members = clock.members;
    const welcome = { type: 'welcome', connectionId, room, name, replay: replay.length, rev, members } as const;
    if ((await this.sendOrForget(connectionId, welcome)) === 'gone') return 'gone';
    for (const message of replay) {
      if ((await this.sendOrForget(connectionId, message)) === 'gone') return 'gone';
    }
    return 'delivered';
  }

  /** Sends to one connection; a connection found gone is retired. */
  async sendOrForget(connectionId: string, frame: ServerFrame): Promise<DeliveryOutcome> {
    const outcome = await this.#messenger.send(connectionId, frame);
    if (outcome === 'gone') await this.retire(connectionId, this.#handshakeCutoff());
    return outcome;
  }

  /**
   * Takes a connection found gone out of its room, announcing its leave in the same write: its $disconnect may
   * never come, and the room must not count it for the rest of its two hours.
   */
  async retire(connectionId: string, connectedBefore: Date): Promise<boolean> {
    let records: readonly PresenceRecord[] = [];
    const retired = await this.#connections.retire(connectionId, connectedBefore, (connection) => {
      records = left(connection, this.#now());
      return records;
    });
    if (retired) await this.#presenceFlush.requestFor(records.map(({ room }) => room));
    return retired;
  }

  /**
   * Applies a change of the caller's connection with the presence records it causes; returns the rooms whose
   * flushes the caller asks for (a writer that fails before asking leaves them to whoever reads those rooms next).
   */
  async #update(
    connectionId: string,
    changes: ConnectionChanges,
  ): Promise<{ change: ConnectionChange; rooms: readonly string[] }> {
    let records: readonly PresenceRecord[] = [];
    const change = await this.#connections.update(connectionId, changes, (attempt) => {
      records = changed(attempt, this.#now());
      return records;
    });
    if (change === undefined) throw new UnknownConnectionError(connectionId);
    return { change, rooms: records.map(({ room }) => room) };
  }

  /** Connections that connected at or after this instant may still be in their handshake. */
  #handshakeCutoff(): Date {
    return new Date(this.#now().getTime() - HANDSHAKE_GRACE_MS);
  }
}

/** A readable default name that differs between connections. */
function defaultName(connectionId: string): string {
  return `Guest ${connectionId.replace(/[^A-Za-z0-9]/g, '').slice(-4) || 'anon'}`;
}
