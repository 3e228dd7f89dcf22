import { type Connection, DEFAULT_ROOM } from './connection.ts';
import type { ConnectionOwners, ConnectionQuota } from './connection-quota.ts';
import type { ConnectionRepository } from './connection-repository.ts';
import { DeliveryError, type DeliveryFailureReason, UnknownConnectionError } from './errors.ts';
import type { ChatMessage, EchoFrame, ErrorCode, ErrorFrame, PresenceFrame, ServerFrame } from './frames.ts';
import type { MessageHistory, ReplayPoint } from './message-history.ts';
import type { DeliveryOutcome, Messenger } from './messenger.ts';
import { runBounded } from './run-bounded.ts';

/** API Gateway's hard cap on a WebSocket connection's life, plus a margin for clock skew and late $disconnects. */
export const CONNECTION_LIFETIME_MS = 2 * 60 * 60 * 1000 + 15 * 60 * 1000;

/**
 * API Gateway answers 410 for a connection until its handshake completes, and gives $connect at most 29 s:
 * a connection younger than this is never taken for gone.
 */
export const HANDSHAKE_GRACE_MS = 30_000;

/** A roster names at most this many members, which keeps its frame well under PostToConnection's 128 KB. */
export const MAX_ROSTER = 1000;

/** At most this many failures are itemised in a report; the counts are always complete. */
const MAX_REPORTED_FAILURES = 20;

export interface ChatServiceOptions {
  readonly connections: ConnectionRepository;
  readonly history: MessageHistory;
  readonly messenger: Messenger;
  /** How many deliveries of one fan-out may be in flight at once. */
  readonly concurrency: number;
  /** Caps the connections of each user and each address; without it nothing is capped. */
  readonly quota?: ConnectionQuota;
  readonly now?: () => Date;
  readonly newId?: () => string;
}

export interface DeliveryFailure {
  readonly connectionId: string;
  readonly reason: DeliveryFailureReason | 'remove_failed' | 'unexpected';
}

/** What one fan-out did: every recipient is counted in exactly one of delivered, gone and failed. */
export interface BroadcastReport {
  readonly room: string;
  readonly recipients: number;
  readonly delivered: number;
  readonly gone: number;
  /**
   * Gone connections taken out of the room; lower than `gone` when that failed, or when a connection was
   * young enough to be still in its handshake (API Gateway answers 410 until it completes).
   */
  readonly removed: number;
  readonly failed: number;
  readonly failures: readonly DeliveryFailure[];
}

export interface PostResult {
  readonly message: ChatMessage;
  readonly report: BroadcastReport;
}

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
  | { readonly outcome: 'connected'; readonly connection: Connection }
  | { readonly outcome: 'user_at_cap' | 'ip_at_cap' };

/** The chat rules: who is connected where, and who receives what. */
export class ChatService {
  readonly #connections: ConnectionRepository;
  readonly #history: MessageHistory;
  readonly #messenger: Messenger;
  readonly #concurrency: number;
  readonly #quota: ConnectionQuota | undefined;
  readonly #now: () => Date;
  readonly #newId: () => string;

  constructor(options: ChatServiceOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
    }
    this.#connections = options.connections;
    this.#history = options.history;
    this.#messenger = options.messenger;
    this.#concurrency = options.concurrency;
    this.#quota = options.quota;
    this.#now = options.now ?? (() => new Date());
    this.#newId = options.newId ?? (() => globalThis.crypto.randomUUID());
  }

  /**
   * Records a new connection in its room, unless its user or its address already holds as many
   * connections as its cap allows. Nothing can be sent to it until its handshake completes.
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
      announced: false,
    };
    const owners: ConnectionOwners = {
      ...(options.userId !== undefined ? { userId: options.userId } : {}),
      ...(options.sourceIp !== undefined ? { sourceIp: options.sourceIp } : {}),
    };
    const claim = (await this.#quota?.claim(connectionId, owners, connection.expiresAt)) ?? 'claimed';
    if (claim !== 'claimed') return { outcome: claim };
    try {
      await this.#connections.save(connection);
    } catch (error) {
      // A connection that was never stored must not hold its owners' slots until they expire.
      await this.#quota?.release(connectionId, owners).catch((releaseError: unknown) => {
        throw new AggregateError(
          [error, releaseError],
          'saving the connection failed, and so did giving its slots back',
        );
      });
      throw error;
    }
    return { outcome: 'connected', connection };
  }

  /**
   * Forgets a closed connection, gives its slots back to its user and address, and tells its room it left.
   * `owners` are as the closing event names them; the user the connection was stored with comes first.
   */
  async disconnect(connectionId: string, owners: ConnectionOwners = {}): Promise<BroadcastReport | undefined> {
    const removed = await this.#connections.remove(connectionId);
    // Released even when the row is gone already: the slots would otherwise be held until they expire.
    const userId = removed?.userId ?? owners.userId;
    await this.#quota?.release(connectionId, { ...owners, ...(userId !== undefined ? { userId } : {}) });
    if (removed === undefined) return undefined;
    // Removal is the connection's last change: its leave outranks any frame about it still in flight.
    return this.#fanOut(removed.room, this.#presence('leave', { ...removed, revision: removed.revision + 1 }));
  }

  /**
   * The first frame after the socket opens: tells the caller who and where it is, replays the room's
   * history (from `from` when the caller saw messages before), and tells the room it joined. Repeating it
   * replays again but announces nothing: a member is announced once per room.
   */
  async hello(connectionId: string, from?: ReplayPoint): Promise<BroadcastReport | undefined> {
    const change = await this.#connections.update(connectionId, { announced: true });
    if (change === undefined) throw new UnknownConnectionError(connectionId);
    const { before, after } = change;
    if ((await this.#welcome(after, from)) === 'gone' || before.announced) return undefined;
    return this.#fanOut(after.room, this.#presence('join', after));
  }

  /**
   * Moves the caller to another room: the old room hears it leave, the new one hears it join. Joining the
   * room it is in already only welcomes it again.
   */
  async join(connectionId: string, room: string, from?: ReplayPoint): Promise<BroadcastReport | undefined> {
    const change = await this.#connections.update(connectionId, { room, announced: true });
    if (change === undefined) throw new UnknownConnectionError(connectionId);
    const { before, after } = change;
    const moved = before.room !== after.room;
    if (moved) await this.#fanOut(before.room, this.#presence('leave', after, before.room));
    const welcomed = await this.#welcome(after, from);
    // A caller found gone during its welcome never arrived; its $disconnect announces that it left.
    if (welcomed === 'gone' || (!moved && before.announced)) return undefined;
    return this.#fanOut(after.room, this.#presence('join', after));
  }

  /** Leaving a room returns the caller to the lobby. */
  leave(connectionId: string): Promise<BroadcastReport | undefined> {
    return this.join(connectionId, DEFAULT_ROOM);
  }

  /** Changes the caller's display name and tells its room. */
  async rename(connectionId: string, name: string): Promise<BroadcastReport | undefined> {
    const change = await this.#connections.update(connectionId, { name });
    if (change === undefined) throw new UnknownConnectionError(connectionId);
    if (change.before.name === change.after.name) return undefined;
    return this.#fanOut(change.after.room, {
      ...this.#presence('rename', change.after),
      previousName: change.before.name,
    });
  }

  /** Sends the caller its room's roster. */
  async who(connectionId: string): Promise<DeliveryOutcome> {
    const connection = await this.#require(connectionId);
    const members = (await this.#connections.members(connection.room, MAX_ROSTER)).map(({ id, name }) => ({
      connectionId: id,
      name,
    }));
    return this.#sendOrForget(connectionId, { type: 'roster', room: connection.room, members });
  }

  /**
   * Stores a message in the sender's room's history, then fans it out to every member of that room, the
   * sender included, so that every client shows the same messages in `seq` order. One failing recipient
   * never stops the others; only recipients reported gone are removed. With a `clientMsgId`, the sender
   * then gets an ack with the delivery counts.
   */
  async post(senderId: string, text: string, clientMsgId?: string): Promise<PostResult> {
    const sender = await this.#require(senderId);
    const message = await this.#history.append({
      type: 'message',
      id: this.#newId(),
      room: sender.room,
      from: sender.id,
      name: sender.name,
      ...(sender.userId !== undefined ? { userId: sender.userId } : {}),
      text,
      sentAt: this.#now().toISOString(),
    });
    const report = await this.#fanOut(sender.room, message);
    if (clientMsgId !== undefined) {
      const { recipients, delivered, gone, failed } = report;
      await this.#sendOrForget(senderId, {
        type: 'ack',
        clientMsgId,
        id: message.id,
        seq: message.seq,
        recipients,
        delivered,
        gone,
        failed,
      });
    }
    return { message, report };
  }

  /** Sends the text back to its sender only; nothing is stored. */
  async echo(senderId: string, text: string): Promise<EchoFrame> {
    const frame: EchoFrame = {
      type: 'echo',
      id: this.#newId(),
      from: senderId,
      text,
      sentAt: this.#now().toISOString(),
    };
    await this.#sendOrForget(senderId, frame);
    return frame;
  }

  /** Answers a keep-alive ping with the caller's own connection id. */
  pong(connectionId: string): Promise<DeliveryOutcome> {
    return this.#sendOrForget(connectionId, { type: 'pong', connectionId });
  }

  /** Tells one connection why its frame was refused. */
  reject(connectionId: string, code: ErrorCode, message: string, clientMsgId?: string): Promise<DeliveryOutcome> {
    const frame: ErrorFrame =
      clientMsgId === undefined ? { type: 'error', code, message } : { type: 'error', code, message, clientMsgId };
    return this.#sendOrForget(connectionId, frame);
  }

  async #require(connectionId: string): Promise<Connection> {
    const connection = await this.#connections.get(connectionId);
    if (connection === undefined) throw new UnknownConnectionError(connectionId);
    return connection;
  }

  async #welcome(connection: Connection, from: ReplayPoint | undefined): Promise<DeliveryOutcome> {
    const replay = await this.#history.recent(connection.room, from);
    const { id: connectionId, room, name, revision: rev } = connection;
    const welcome = { type: 'welcome', connectionId, room, name, replay: replay.length, rev } as const;
    if ((await this.#sendOrForget(connectionId, welcome)) === 'gone') return 'gone';
    for (const message of replay) {
      if ((await this.#sendOrForget(connectionId, message)) === 'gone') return 'gone';
    }
    return 'delivered';
  }

  /** Sends to one connection; a connection found gone is retired (its $disconnect will announce it). */
  async #sendOrForget(connectionId: string, frame: ServerFrame): Promise<DeliveryOutcome> {
    const outcome = await this.#messenger.send(connectionId, frame);
    if (outcome === 'gone') await this.#connections.retire(connectionId, this.#handshakeCutoff());
    return outcome;
  }

  /** Connections that connected at or after this instant may still be in their handshake. */
  #handshakeCutoff(): Date {
    return new Date(this.#now().getTime() - HANDSHAKE_GRACE_MS);
  }

  /** A presence frame about the connection as it is after the change; a leave names the room it left. */
  #presence(event: PresenceFrame['event'], connection: Connection, room = connection.room): PresenceFrame {
    return {
      type: 'presence',
      event,
      room,
      connectionId: connection.id,
      name: connection.name,
      ...(connection.userId !== undefined ? { userId: connection.userId } : {}),
      rev: connection.revision,
      at: this.#now().toISOString(),
    };
  }

  /**
   * Sends a frame to every member of a room. A member found gone is retired, not forgotten: it stops
   * receiving at once, and the $disconnect that API Gateway sends for it tells the room it left, exactly once,
   * without another fan-out here.
   */
  async #fanOut(room: string, frame: ServerFrame): Promise<BroadcastReport> {
    let recipients = 0;
    let delivered = 0;
    let gone = 0;
    let removed = 0;
    let failed = 0;
    const failures: DeliveryFailure[] = [];
    const fail = (failure: DeliveryFailure): void => {
      if (failures.length < MAX_REPORTED_FAILURES) failures.push(failure);
    };

    const cutoff = this.#handshakeCutoff();
    await runBounded(this.#connections.list(room), this.#concurrency, async (recipientId) => {
      recipients += 1;
      let outcome;
      try {
        outcome = await this.#messenger.send(recipientId, frame);
      } catch (error) {
        failed += 1;
        fail({ connectionId: recipientId, reason: error instanceof DeliveryError ? error.reason : 'unexpected' });
        return;
      }
      if (outcome === 'delivered') {
        delivered += 1;
        return;
      }
      gone += 1;
      try {
        if (await this.#connections.retire(recipientId, cutoff)) removed += 1;
      } catch {
        fail({ connectionId: recipientId, reason: 'remove_failed' });
      }
    });

    return { room, recipients, delivered, gone, removed, failed, failures };
  }
}

/** A readable default name that differs between connections. */
function defaultName(connectionId: string): string {
  return `Guest ${connectionId.replace(/[^A-Za-z0-9]/g, '').slice(-4) || 'anon'}`;
}
