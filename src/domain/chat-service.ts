import type { ConnectionOwners, ConnectionQuota } from './connection-quota.ts';
import type { ConnectionRepository } from './connection-repository.ts';
import type { FanOutQueue, PresenceJob, ShardJob } from './fan-out-queue.ts';
import type { ChatMessage, EchoFrame, ErrorCode, ErrorFrame, ServerFrame } from './frames.ts';
import type { OwnerBudget } from './owner-budget.ts';
import {
  type MessageHistory,
  type NewMessage,
  publisherFrom,
  publisherKey,
  type ReplayPoint,
  type SentAs,
  senderKey,
} from './message-history.ts';
import type { DeliveryOutcome, Messenger } from './messenger.ts';
import type { PresenceLog } from './presence.ts';
import { PresenceFlush } from './presence-flush.ts';
import { Admission, type ConnectOptions, type ConnectResult } from './admission.ts';
import { Membership } from './membership.ts';
import { type BroadcastReport, RoomFanOut } from './room-fan-out.ts';
import type { ShardProgress } from './shard-progress.ts';

export { HANDSHAKE_GRACE_MS } from './room-fan-out.ts';
export type { BroadcastReport, DeliveryFailure } from './room-fan-out.ts';
export { CONNECTION_LIFETIME_MS, ROSTER_PAGE_SIZE } from './membership.ts';
export type { ConnectOptions, ConnectResult } from './admission.ts';

export interface ChatServiceOptions {
  readonly connections: ConnectionRepository;
  readonly history: MessageHistory;
  readonly messenger: Messenger;
  /** How many deliveries of one fan-out may be in flight at once. */
  readonly concurrency: number;
  /** Caps the connections of each user and each address; without it nothing is capped. */
  readonly quota?: ConnectionQuota;
  /** Each owner's budget, which every connect spends `connectWeight` units of; without it connects are free. */
  readonly ownerBudget?: OwnerBudget;
  readonly connectWeight?: number;
  /** Each room's membership changes waiting to be announced. */
  readonly presence: PresenceLog;
  /** Where presence flushes go, to run in the fan-out worker rather than in the caller's invocation. */
  readonly fanOutQueue: FanOutQueue;
  /** A room announces its membership changes at most once per window of this many milliseconds. */
  readonly presenceWindowMs: number;
  /** Above this many members a room is big: its presence frames count changes rather than list them. */
  readonly bigRoomSize: number;
  /**
   * A room of at most this many members is fanned out by the invocation that sends to it (the lowest
   * latency); a bigger one by shard jobs of this many recipients each, run by the fan-out worker.
   */
  readonly fanOutShardSize: number;
  /** Which shard jobs completed, so that a repeated one does nothing. */
  readonly shardProgress: ShardProgress;
  readonly now?: () => Date;
  readonly newId?: () => string;
}

/** A backend service that publishes into rooms: who it is (never shown to members), and the name its messages show. */
export interface Publisher {
  /** The caller's identity (its IAM principal): what tells its retries apart from another publisher's. */
  readonly id: string;
  readonly name: string;
}

/** A room as the publish API describes it. */
export interface RoomSummary {
  readonly room: string;
  /** How many members the room has, as its joins and leaves counted them. */
  readonly members: number;
  /** The `seq` of the newest message the room keeps; 0 when it keeps none. */
  readonly latestSeq: number;
}

export interface PostResult {
  readonly message: ChatMessage;
  readonly report: BroadcastReport;
}

/**
 * The chat rules, composed of one module per workflow: {@link Membership} (who is connected where), the messages
 * (here), {@link PresenceFlush} (coalesced presence) and {@link RoomFanOut} (inline or sharded fan-out).
 */
export class ChatService {
  readonly #history: MessageHistory;
  readonly #presence: PresenceLog;
  readonly #roomFanOut: RoomFanOut;
  readonly #presenceFlush: PresenceFlush<BroadcastReport>;
  readonly #membership: Membership;
  readonly #admission: Admission;
  readonly #now: () => Date;
  readonly #newId: () => string;

  constructor(options: ChatServiceOptions) {
    this.#now = options.now ?? (() => new Date());
    this.#newId = options.newId ?? (() => globalThis.crypto.randomUUID());
    const { connections, messenger, fanOutQueue, shardProgress, concurrency, fanOutShardSize } = options;
    // Checks the concurrency and the shard size.
    this.#roomFanOut = new RoomFanOut({
      connections,
      messenger,
      fanOutQueue,
      shardProgress,
      concurrency,
      fanOutShardSize,
      now: this.#now,
      newId: this.#newId,
      retire: (connectionId, connectedBefore) => this.#membership.retire(connectionId, connectedBefore),
    });
    this.#history = options.history;
    this.#presence = options.presence;
    // Checks the presence window.
    this.#presenceFlush = new PresenceFlush({
      presence: options.presence,
      fanOutQueue,
      presenceWindowMs: options.presenceWindowMs,
      bigRoomSize: options.bigRoomSize,
      broadcast: (room, frame, members) => this.#broadcast(room, frame, members),
      now: this.#now,
      newId: this.#newId,
    });
    this.#membership = new Membership({
      connections,
      history: options.history,
      messenger,
      presence: options.presence,
      presenceFlush: this.#presenceFlush,
      now: this.#now,
    });
    this.#admission = new Admission({
      connections,
      ...(options.quota !== undefined ? { quota: options.quota } : {}),
      ...(options.ownerBudget !== undefined ? { ownerBudget: options.ownerBudget } : {}),
      ...(options.connectWeight !== undefined ? { connectWeight: options.connectWeight } : {}),
      presenceFlush: this.#presenceFlush,
      now: this.#now,
    });
  }

  /** See {@link Admission.connect}. */
  connect(connectionId: string, options: ConnectOptions = {}): Promise<ConnectResult> {
    return this.#admission.connect(connectionId, options);
  }

  /** See {@link Admission.disconnect}. */
  disconnect(connectionId: string, owners: ConnectionOwners = {}): Promise<boolean> {
    return this.#admission.disconnect(connectionId, owners);
  }

  /** See {@link Membership.hello}. */
  hello(connectionId: string, from?: ReplayPoint): Promise<DeliveryOutcome> {
    return this.#membership.hello(connectionId, from);
  }

  /** See {@link Membership.join}. */
  join(connectionId: string, room: string, from?: ReplayPoint): Promise<DeliveryOutcome> {
    return this.#membership.join(connectionId, room, from);
  }

  /** See {@link Membership.leave}. */
  leave(connectionId: string): Promise<DeliveryOutcome> {
    return this.#membership.leave(connectionId);
  }

  /** See {@link Membership.rename}. */
  rename(connectionId: string, name: string): Promise<void> {
    return this.#membership.rename(connectionId, name);
  }

  /** See {@link Membership.who}. */
  who(connectionId: string, cursor?: string): Promise<DeliveryOutcome> {
    return this.#membership.who(connectionId, cursor);
  }

  /**
   * Announces a room's pending membership changes in one frame to every member: the fan-out worker's job
   * (see {@link PresenceFlush.flush}).
   */
  flushPresence(job: PresenceJob): Promise<BroadcastReport | undefined> {
    return this.#presenceFlush.flush(job);
  }

  /**
   * Stores a message in the sender's room's history, then fans it out to every member of that room, the
   * sender included, so that every client shows the same messages in `seq` order. One failing recipient
   * never stops the others; only recipients reported gone are removed. With a `clientMsgId`, the sender
   * then gets an ack with the delivery counts, and a resend with the same `clientMsgId` (after an error) is
   * the same message: it is not stored again, and its fan-out is run again to finish what the first left undone.
   * A resend is known from any connection of the same signed-in user, else of the page that names itself by
   * `clientId`, else only from the same connection (see {@link senderKey}).
   */
  async post(senderId: string, text: string, clientMsgId?: string, clientId?: string): Promise<PostResult> {
    const sender = await this.#membership.require(senderId);
    const message: NewMessage = {
      type: 'message',
      id: this.#newId(),
      room: sender.room,
      from: sender.id,
      name: sender.name,
      ...(sender.userId !== undefined ? { userId: sender.userId } : {}),
      text,
      sentAt: this.#now().toISOString(),
    };
    const sentAs = clientMsgId === undefined ? undefined : { sender: senderKey(sender, clientId), clientMsgId };
    const { report, ...result } = await this.#storeAndFanOut(message, sentAs);
    if (clientMsgId !== undefined) {
      const { recipients, delivered, gone, failed, shards } = report;
      await this.#membership.sendOrForget(senderId, {
        type: 'ack',
        clientMsgId,
        id: result.message.id,
        seq: result.message.seq,
        recipients,
        delivered,
        gone,
        failed,
        ...(shards > 0 ? { shards } : {}),
      });
    }
    return { ...result, report };
  }

  /**
   * Stores a message from a backend service in a room's history and fans it out to every member, as {@link post}
   * does a member's: no connection sends it, so its `from` is {@link publisherFrom}'s, which no connection id can
   * equal, and its sender is the publisher's id (see {@link publisherKey}), which no frame shows. With a
   * `clientMsgId`, a retry by the same publisher is the message stored first, whose fan-out is run again.
   */
  publish(room: string, text: string, publisher: Publisher, clientMsgId?: string): Promise<PostResult> {
    const message: NewMessage = {
      type: 'message',
      id: this.#newId(),
      room,
      from: publisherFrom(publisher.name),
      name: publisher.name,
      text,
      sentAt: this.#now().toISOString(),
    };
    const sentAs = clientMsgId === undefined ? undefined : { sender: publisherKey(publisher.id), clientMsgId };
    return this.#storeAndFanOut(message, sentAs);
  }

  /** A room as it is now: how many members it has, and the `seq` of its newest kept message (0: none kept). */
  async describeRoom(room: string): Promise<RoomSummary> {
    const [kept, clock] = await Promise.all([this.#history.recent(room), this.#presence.clock(room)]);
    return { room, members: clock.members, latestSeq: kept.at(-1)?.seq ?? 0 };
  }

  /** A room's kept messages, oldest first; from `afterSeq`, only those numbered above it. */
  recentMessages(room: string, afterSeq?: number): Promise<readonly ChatMessage[]> {
    return this.#history.recent(room, afterSeq === undefined ? undefined : { seq: afterSeq });
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
    await this.#membership.sendOrForget(senderId, frame);
    return frame;
  }

  /** Answers a keep-alive ping with the caller's own connection id. */
  pong(connectionId: string): Promise<DeliveryOutcome> {
    return this.#membership.sendOrForget(connectionId, { type: 'pong', connectionId });
  }

  /** Tells one connection why its frame was refused. */
  reject(connectionId: string, code: ErrorCode, message: string, clientMsgId?: string): Promise<DeliveryOutcome> {
    const frame: ErrorFrame =
      clientMsgId === undefined ? { type: 'error', code, message } : { type: 'error', code, message, clientMsgId };
    return this.#membership.sendOrForget(connectionId, frame);
  }

  /**
   * Delivers a frame to one page of one shard of a room and queues the next page's job: the fan-out worker's job
   * for a big room (see {@link RoomFanOut.deliverShard}).
   */
  deliverShard(job: ShardJob): Promise<BroadcastReport | undefined> {
    return this.#roomFanOut.deliverShard(job);
  }

  /**
   * Stores a message (or, for a resend under `sentAs`, finds the one stored first), then fans it out to its room's
   * members: the room's size decides between the inline and the sharded fan-out, and is read while the message is
   * stored, as are the room's members.
   */
  async #storeAndFanOut(message: NewMessage, sentAs: SentAs | undefined): Promise<PostResult> {
    const listing = this.#roomFanOut.startListing(message.room);
    try {
      const [stored, clockOfRoom] = await Promise.all([
        this.#history.append(message, sentAs),
        this.#presence.clock(message.room),
      ]);
      // A resend made after its sender moved is the message it sent before, in the room it was sent to.
      const clock = stored.room === message.room ? clockOfRoom : await this.#presence.clock(stored.room);
      await this.#presenceFlush.resumeLost(stored.room, clock);
      // A message's shard jobs are named by its id, so those of a resend that completed before do nothing.
      const report = await this.#roomFanOut.broadcast(stored.room, stored, clock.members, stored.id, listing);
      return { message: stored, report };
    } finally {
      // The listing of another room than the message's, or of a big room, or of a post that failed.
      await listing.close();
    }
  }

  /** Sends a frame to a room, inline or by shard jobs named `fanOutId` (see {@link RoomFanOut.broadcast}). */
  #broadcast(room: string, frame: ServerFrame, members: number, fanOutId?: string): Promise<BroadcastReport> {
    return this.#roomFanOut.broadcast(room, frame, members, fanOutId);
  }
}
