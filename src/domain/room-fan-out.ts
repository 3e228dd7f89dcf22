import type { ConnectionRepository } from './connection-repository.ts';
import { DeliveryError, type DeliveryFailureReason } from './errors.ts';
import type { FanOutQueue, ShardJob } from './fan-out-queue.ts';
import type { ServerFrame } from './frames.ts';
import type { Messenger } from './messenger.ts';
import { runBounded } from './run-bounded.ts';
import { type ShardProgress, shardJobKey } from './shard-progress.ts';

/**
 * API Gateway answers 410 for a connection until its handshake completes, and gives $connect at most 29 s:
 * a connection younger than this is never taken for gone.
 */
export const HANDSHAKE_GRACE_MS = 30_000;

/** At most this many failures are itemised in a report; the counts are always complete. */
const MAX_REPORTED_FAILURES = 20;

export interface RoomFanOutOptions {
  readonly connections: ConnectionRepository;
  readonly messenger: Messenger;
  /** Where shard jobs go, to run in the fan-out worker. */
  readonly fanOutQueue: FanOutQueue;
  /** Which shard jobs completed, and where each page starts, so that a repeated one does nothing. */
  readonly shardProgress: ShardProgress;
  /** How many deliveries of one fan-out may be in flight at once. */
  readonly concurrency: number;
  /**
   * A room of at most this many members is fanned out by the invocation that sends to it (the lowest
   * latency); a bigger one by shard jobs of this many recipients each, run by the fan-out worker.
   */
  readonly fanOutShardSize: number;
  readonly now: () => Date;
  readonly newId: () => string;
  /**
   * Takes a member found gone out of its room, announcing its leave (see `ConnectionRepository.retire`); false
   * when it was kept (still in its handshake) or is gone already.
   */
  readonly retire: (connectionId: string, connectedBefore: Date) => Promise<boolean>;
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
  /**
   * Shard jobs handed to the fan-out worker instead of sending here (a room above the shard size); then the
   * counts above are 0 and the worker's reports count the deliveries.
   */
  readonly shards: number;
}

/** Sends a frame to every member of a room: inline up to the shard size, else by shard jobs, page by page. */
export class RoomFanOut {
  readonly #connections: ConnectionRepository;
  readonly #messenger: Messenger;
  readonly #fanOutQueue: FanOutQueue;
  readonly #shardProgress: ShardProgress;
  readonly #concurrency: number;
  readonly #fanOutShardSize: number;
  readonly #now: () => Date;
  readonly #newId: () => string;
  readonly #retire: RoomFanOutOptions['retire'];

  constructor(options: RoomFanOutOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
    }
    if (!Number.isInteger(options.fanOutShardSize) || options.fanOutShardSize < 1) {
      throw new RangeError(`fanOutShardSize must be a positive integer, got ${options.fanOutShardSize}`);
    }
    this.#connections = options.connections;
    this.#messenger = options.messenger;
    this.#fanOutQueue = options.fanOutQueue;
    this.#shardProgress = options.shardProgress;
    this.#concurrency = options.concurrency;
    this.#fanOutShardSize = options.fanOutShardSize;
    this.#now = options.now;
    this.#newId = options.newId;
    this.#retire = options.retire;
  }

  /**
   * Sends a frame to a room: here, for a room up to the shard size, else by one shard job per shard of the
   * room's listing, which the fan-out worker runs side by side, all queued or the call throws. `members` is the
   * room's count; `fanOutId` names the shard jobs.
   */
  async broadcast(
    room: string,
    frame: ServerFrame,
    members: number,
    fanOutId?: string,
    listing?: RoomListing,
  ): Promise<BroadcastReport> {
    const prefetched = listing?.room === room ? listing : undefined;
    if (members <= this.#fanOutShardSize) return this.#fanOut(room, frame, prefetched?.pages);
    await prefetched?.close();
    const { shards } = this.#connections;
    const job = { kind: 'shard', fanOutId: fanOutId ?? this.#newId(), room, page: 0, frame } as const;
    await this.#fanOutQueue.enqueueAll(Array.from({ length: shards }, (_, shard): ShardJob => ({ ...job, shard })));
    return { room, recipients: 0, delivered: 0, gone: 0, removed: 0, failed: 0, failures: [], shards };
  }

  /**
   * Starts listing a room's members before its frame is ready (a message while it is stored), so that a small
   * room's listing costs no round trip of its own; {@link broadcast} takes it up, or closes it for a big room. A
   * member that joins between this listing and the store misses the message live, and gets it with the next
   * message's gap (as with a listing of the index that had not caught up with its join).
   */
  startListing(room: string): RoomListing {
    return { room, ...started(this.#connections.list(room)) };
  }

  /**
   * Delivers a frame to one page of one shard of a room, the fan-out worker's job for a big room, then queues
   * the job of the page after it and records the job complete. The shards of a room run side by side, their
   * pages one after another. A job that failed runs again and sends its page again (members drop repeats by
   * message id, or by `rev`); a copy of a job that completed does nothing, so a chain never runs twice over.
   */
  async deliverShard(job: ShardJob): Promise<BroadcastReport | undefined> {
    const key = shardJobKey(job);
    if (await this.#shardProgress.isComplete(key)) return undefined;
    const page = await this.#connections.listShard(job.room, job.shard, this.#fanOutShardSize, job.after);
    const report = await this.#fanOut(job.room, job.frame, onePage(page.ids));
    if (page.next !== undefined) {
      // A rerun lists its page anew (members retired, joined, a later expiry cut-off), so its cursor can differ:
      // the first one recorded is the next page's, so every run queues the same job and the chain never forks.
      const next = { ...job, page: job.page + 1 };
      const after = await this.#shardProgress.recordCursor(shardJobKey(next), page.next);
      await this.#fanOutQueue.enqueue({ ...next, after });
    }
    await this.#shardProgress.complete(key);
    return report;
  }

  /**
   * Sends a frame to every member of a room. A member found gone is retired: it stops receiving at once, and its
   * room hears it leave (once: its $disconnect, if it ever comes, only forgets its row).
   */
  async #fanOut(
    room: string,
    frame: ServerFrame,
    recipientPages: AsyncIterable<readonly string[]> = this.#connections.list(room),
  ): Promise<BroadcastReport> {
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
    await runBounded(recipientPages, this.#concurrency, async (recipientId) => {
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
        if (await this.#retire(recipientId, cutoff)) removed += 1;
      } catch {
        fail({ connectionId: recipientId, reason: 'remove_failed' });
      }
    });

    return { room, recipients, delivered, gone, removed, failed, failures, shards: 0 };
  }

  #handshakeCutoff(): Date {
    return new Date(this.#now().getTime() - HANDSHAKE_GRACE_MS);
  }
}

/** A room's listing started ahead of its frame: see {@link RoomFanOut.startListing}. */
export interface RoomListing {
  readonly room: string;
  readonly pages: AsyncIterable<readonly string[]>;
  /** Stops the listing if its pages were not taken. */
  close(): Promise<void>;
}

/** An async iterable whose first item is asked for now; `close` ends it when nobody took its items. */
function started<T>(source: AsyncIterable<T>): { pages: AsyncIterable<T>; close(): Promise<void> } {
  const iterator = source[Symbol.asyncIterator]();
  const first = iterator.next();
  // A failure is seen by whoever takes the pages; one never taken is not unhandled.
  first.catch(() => undefined);
  let taken = false;
  return {
    pages: {
      async *[Symbol.asyncIterator]() {
        taken = true;
        try {
          for (let step = await first; step.done !== true; step = await iterator.next()) yield step.value;
        } finally {
          await iterator.return?.();
        }
      },
    },
    async close() {
      if (taken) return;
      taken = true;
      await first.catch(() => undefined);
      await iterator.return?.();
    },
  };
}

async function* onePage(ids: readonly string[]): AsyncIterable<readonly string[]> {
  yield ids;
}
