import type { FanOutQueue, PresenceJob } from './fan-out-queue.ts';
import type { PresenceBatchFrame, PresenceFrame } from './frames.ts';
import type { PresenceChange, PresenceClock, PresenceLog } from './presence.ts';

/** A presence flush announces at most this many changes; more wait for the room's next window. */
export const MAX_CHANGES_PER_FLUSH = 1000;

/** A batch frame of a room up to the big-room size lists at most this many changes (about 200 bytes each). */
export const MAX_LISTED_CHANGES = 250;

/** A batch frame of a big room lists only its first few changes, enough to say "Ann, Bob and 12 others". */
export const BIG_ROOM_LISTED_CHANGES = 3;

/**
 * A change recorded this long ago, after the room's last flush started and with no flush scheduled, is taken as
 * one whose writer failed to ask for its flush: whoever reads the room next asks for it.
 */
export const UNREQUESTED_FLUSH_MS = 10_000;

/**
 * A scheduled flush that is this far past due is taken as lost (its job could not be queued, or kept
 * failing) and replaced by the room's next change, `who` or welcome.
 */
export const LOST_FLUSH_MS = 60_000;

export interface PresenceFlushOptions<Report> {
  /** Each room's membership changes waiting to be announced. */
  readonly presence: PresenceLog;
  /** Where flushes go, to run in the fan-out worker rather than in the caller's invocation. */
  readonly fanOutQueue: FanOutQueue;
  /** A room announces its membership changes at most once per window of this many milliseconds. */
  readonly presenceWindowMs: number;
  /** Above this many members a room is big: its presence frames count changes rather than list them. */
  readonly bigRoomSize: number;
  /** Sends a presence frame to every member of a room of `members` members. */
  readonly broadcast: (room: string, frame: PresenceFrame | PresenceBatchFrame, members: number) => Promise<Report>;
  readonly now: () => Date;
  readonly newId: () => string;
}

/**
 * Presence coalescing: keeps each membership change for its room's next presence frame, and makes sure that
 * frame is sent, at most once per room and window, by a flush that survives failing part-way.
 */
export class PresenceFlush<Report> {
  readonly #presence: PresenceLog;
  readonly #fanOutQueue: FanOutQueue;
  readonly #windowMs: number;
  readonly #bigRoomSize: number;
  readonly #broadcast: PresenceFlushOptions<Report>['broadcast'];
  readonly #now: () => Date;
  readonly #newId: () => string;

  constructor(options: PresenceFlushOptions<Report>) {
    if (!Number.isInteger(options.presenceWindowMs) || options.presenceWindowMs < 0) {
      throw new RangeError(`presenceWindowMs must be a whole number of milliseconds, got ${options.presenceWindowMs}`);
    }
    this.#presence = options.presence;
    this.#fanOutQueue = options.fanOutQueue;
    this.#windowMs = options.presenceWindowMs;
    this.#bigRoomSize = options.bigRoomSize;
    this.#broadcast = options.broadcast;
    this.#now = options.now;
    this.#newId = options.newId;
  }

  /**
   * Makes sure the changes just recorded in these rooms will be sent: at once when a room announced nothing during
   * the last window, else when the window ends, by one scheduled flush per room. So a room announces at most once
   * per window whatever its churn, and every change is announced. Each room's request is one step when its window
   * is open (the claim needs no read of the clock first), two when a trailing flush must be scheduled.
   */
  async requestFor(rooms: readonly string[]): Promise<void> {
    await Promise.all([...new Set(rooms)].map((room) => this.#requestUnread(room)));
  }

  /**
   * Announces a room's pending membership changes in one frame to every member: the fan-out worker's job.
   * A flush that is neither the room's scheduled one nor the one started last (a copy that another flush
   * overtook) does nothing; one that came early goes back to the queue until its window ends. The changes
   * are forgotten only once sent, so a job that failed part-way sends them when it runs again. Safe to
   * repeat: members drop changes they have by `rev`.
   */
  async flush(job: PresenceJob): Promise<Report | undefined> {
    const { room } = job;
    const now = this.#now();
    if ('jobId' in job) {
      // A claimed flush is due at its claim; a trailing one once the window of the last flush is over.
      const windowStart = job.claimedAt !== undefined ? new Date(job.claimedAt) : this.#windowStart(now);
      const started = await this.#presence.startScheduledFlush(room, job.jobId, now, windowStart);
      if (started !== true) {
        if (started.scheduled?.jobId === job.jobId) {
          const due = (started.lastFlushAt?.getTime() ?? now.getTime()) + this.#windowMs;
          await this.#fanOutQueue.enqueue(job, Math.max(0, due - now.getTime()));
        }
        return undefined;
      }
    }
    const clock = await this.#presence.clock(room);
    // A room up to the big-room size keeps a full roster from its frames: a flush takes no more changes than one
    // frame lists, so each is in some frame. A big room's frames count changes and list only the first few.
    const limit = clock.members > this.#bigRoomSize ? MAX_CHANGES_PER_FLUSH : MAX_LISTED_CHANGES;
    const pending = await this.#presence.pending(room, limit);
    if (pending.length === 0) return undefined;
    const frame = this.#frame(
      room,
      pending.map(({ change }) => change),
      clock.members,
    );
    const report = await this.#broadcast(room, frame, clock.members);
    await this.#presence.forget(
      room,
      pending.map(({ key }) => key),
    );
    // More changes than one flush takes wait for the next window.
    if (pending.length === limit) await this.#request(room, await this.#presence.clock(room));
    return report;
  }

  /**
   * A scheduled flush long overdue was never queued, or its job kept failing; a change recorded after the last
   * flush started, with none scheduled, was never asked for (its writer failed after writing it). Whoever reads
   * the room next asks for the flush, so its changes wait for the room's next request of any kind, not only its
   * next change.
   */
  async resumeLost(room: string, clock: PresenceClock): Promise<void> {
    if (clock.scheduled !== undefined) {
      await this.#request(room, clock);
      return;
    }
    const { lastChangeAt, lastFlushAt } = clock;
    const unrequested =
      lastChangeAt !== undefined &&
      lastChangeAt.getTime() >= (lastFlushAt?.getTime() ?? 0) &&
      lastChangeAt.getTime() <= this.#now().getTime() - UNREQUESTED_FLUSH_MS;
    if (unrequested) await this.#request(room, clock);
  }

  async #request(room: string, clock: PresenceClock): Promise<void> {
    const now = this.#now();
    const windowStart = this.#windowStart(now);
    const staleBefore = new Date(now.getTime() - LOST_FLUSH_MS);
    if (this.#freshlyScheduled(clock, staleBefore)) return;
    // The flush is recorded as scheduled before its job is queued: one whose job never was is overdue in the end.
    const jobId = this.#newId();
    if (clock.lastFlushAt === undefined || clock.lastFlushAt <= windowStart) {
      if (await this.#presence.claimFlush(room, clock.lastFlushAt, now, windowStart, staleBefore, jobId)) {
        await this.#fanOutQueue.enqueue({ kind: 'presence', room, jobId, claimedAt: now.toISOString() });
        return;
      }
    }
    await this.#scheduleTrailing(room, clock, now, jobId);
  }

  /** {@link #request} without the clock: the claim is tried first, and returns the clock when it fails. */
  async #requestUnread(room: string): Promise<void> {
    const now = this.#now();
    const windowStart = this.#windowStart(now);
    const staleBefore = new Date(now.getTime() - LOST_FLUSH_MS);
    const jobId = this.#newId();
    const claimed = await this.#presence.requestFlush(room, now, windowStart, staleBefore, jobId);
    if (claimed === true) {
      await this.#fanOutQueue.enqueue({ kind: 'presence', room, jobId, claimedAt: now.toISOString() });
      return;
    }
    if (this.#freshlyScheduled(claimed, staleBefore)) return;
    await this.#scheduleTrailing(room, claimed, now, jobId);
  }

  #freshlyScheduled(clock: PresenceClock, staleBefore: Date): boolean {
    return clock.scheduled !== undefined && clock.scheduled.due >= staleBefore;
  }

  /** A window is open (or another change just claimed it): flush when it ends. */
  async #scheduleTrailing(room: string, clock: PresenceClock, now: Date, jobId: string): Promise<void> {
    const windowStart = this.#windowStart(now);
    const staleBefore = new Date(now.getTime() - LOST_FLUSH_MS);
    const lastFlush = Math.max(clock.lastFlushAt?.getTime() ?? 0, windowStart.getTime() + 1);
    const due = new Date(Math.max(now.getTime(), lastFlush + this.#windowMs));
    if (await this.#presence.scheduleFlush(room, due, jobId, staleBefore)) {
      await this.#fanOutQueue.enqueue({ kind: 'presence', room, jobId }, due.getTime() - now.getTime());
    }
  }

  #windowStart(now: Date): Date {
    return new Date(now.getTime() - this.#windowMs);
  }

  /**
   * One change in a room up to the big-room size: the single-change frame. Otherwise a batch, which lists
   * every change of a room up to the big-room size (up to a limit that keeps it far under 128 KB), and
   * only the first few of a big room's.
   */
  #frame(room: string, changes: readonly PresenceChange[], members: number): PresenceFrame | PresenceBatchFrame {
    const big = members > this.#bigRoomSize;
    const [only] = changes;
    if (changes.length === 1 && only !== undefined && !big) return { type: 'presence', room, members, ...only };
    const count = (event: PresenceChange['event']): number => changes.filter((c) => c.event === event).length;
    const listed = changes.slice(0, big ? BIG_ROOM_LISTED_CHANGES : MAX_LISTED_CHANGES);
    return {
      type: 'presence_batch',
      room,
      members,
      joined: count('join'),
      left: count('leave'),
      renamed: count('rename'),
      changes: listed,
      complete: listed.length === changes.length,
    };
  }
}
