import { type Connection, type ConnectionChange, type ConnectionChanges, DEFAULT_ROOM } from './connection.ts';
import type { ConnectionRepository } from './connection-repository.ts';
import { UnknownConnectionError } from './errors.ts';
import type { ServerFrame } from './frames.ts';
import type { MessageHistory, ReplayPoint } from './message-history.ts';
import type { DeliveryOutcome, Messenger } from './messenger.ts';
import type { PresenceLog, PresenceRecord } from './presence.ts';
import type { PresenceFlush } from './presence-flush.ts';
import { changed, left } from './presence-records.ts';
import { HANDSHAKE_GRACE_MS } from './room-fan-out.ts';

/** API Gateway's hard cap on a WebSocket connection's life, plus a margin for clock skew and late $disconnects. */
export const CONNECTION_LIFETIME_MS = 2 * 60 * 60 * 1000 + 15 * 60 * 1000;

/**
 * A roster page names at most this many members. Each name is an item read by its key (half a read unit however
 * small), so a page costs about half a unit per member: `who`'s rate weight pays for a page of this size at no more
 * read units per unit of weight than a message (bench/read-units.ts).
 */
export const ROSTER_PAGE_SIZE = 25;

export interface MembershipOptions {
  readonly connections: ConnectionRepository;
  readonly history: MessageHistory;
  readonly messenger: Messenger;
  readonly presence: PresenceLog;
  readonly presenceFlush: PresenceFlush<unknown>;
  readonly now: () => Date;
}

/**
 * Who is where: members move between rooms and change names, each change written with the presence records it causes
 * (all or nothing), and each member is welcomed to its room with its history. Connections come and go through
 * {@link Admission}.
 */
export class Membership {
  readonly #connections: ConnectionRepository;
  readonly #history: MessageHistory;
  readonly #messenger: Messenger;
  readonly #presence: PresenceLog;
  readonly #presenceFlush: PresenceFlush<unknown>;
  readonly #now: () => Date;

  constructor(options: MembershipOptions) {
    this.#connections = options.connections;
    this.#history = options.history;
    this.#messenger = options.messenger;
    this.#presence = options.presence;
    this.#presenceFlush = options.presenceFlush;
    this.#now = options.now;
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
