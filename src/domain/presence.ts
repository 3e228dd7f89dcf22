/** One change of a room's membership: someone joined, left or changed name. */
export interface PresenceChange {
  readonly event: 'join' | 'leave' | 'rename';
  readonly connectionId: string;
  /** The member's name after the change (a leave: its name when it left). */
  readonly name: string;
  readonly userId?: string;
  /** The name before a rename. */
  readonly previousName?: string;
  /** The member's revision after this change: of two changes about one member, the higher `rev` is current. */
  readonly rev: number;
  readonly at: string;
}

/** A recorded change that has not been announced yet; `key` forgets it once it has been. */
export interface PendingChange {
  readonly key: string;
  readonly change: PresenceChange;
}

/**
 * A change to keep for a room's next presence frame and how it moves the room's member count: written in the
 * same atomic step as the connection change that caused it (see the `ConnectionRepository`), so a change of
 * membership is never made without being counted and announced, nor counted twice when a write is replayed.
 */
export interface PresenceRecord {
  readonly room: string;
  readonly change: PresenceChange;
  readonly memberDelta: number;
}

/** When a room last announced its changes, and whether a trailing announcement is scheduled. */
export interface PresenceClock {
  /** How many members the room has, as its joins and leaves counted them. */
  readonly members: number;
  readonly lastFlushAt?: Date;
  /** When a change was last recorded: one after the last flush started, with none scheduled, waits for a flush. */
  readonly lastChangeAt?: Date;
  /** The scheduled trailing flush, if any: when it is due and its job's id. */
  readonly scheduled?: { readonly due: Date; readonly jobId: string };
}

/**
 * Each room's membership changes that wait for its next presence frame, and the clock that makes a room
 * announce at most once per window. Every method is one atomic step; none of them sends anything. Changes are
 * kept (and members counted) by the connection repository, with the connection changes that cause them.
 */
export interface PresenceLog {
  /**
   * Claims an immediate flush at `at`: succeeds only while the room's last flush is still `lastFlushAt` (none:
   * `undefined`), that flush was at or before `windowStart`, and no trailing flush is scheduled (a scheduled
   * one due before `staleBefore` is taken as lost). Sets the last flush to `at` and schedules the flush, due at
   * `at`, as job `jobId`, which starts it like a trailing one: so a claimed flush whose job was never queued
   * is overdue like any other, and replaced.
   */
  claimFlush(
    room: string,
    lastFlushAt: Date | undefined,
    at: Date,
    windowStart: Date,
    staleBefore: Date,
    jobId: string,
  ): Promise<boolean>;
  /**
   * Claims an immediate flush at `at` as {@link claimFlush} does, without the clock read first: succeeds while the
   * room's last flush (whichever it was) was at or before `windowStart` and no trailing flush is scheduled (one due
   * before `staleBefore` is taken as lost). On failure returns the clock as it is, so the caller can schedule the
   * trailing flush instead: a membership change asks for its flush in one step.
   */
  requestFlush(
    room: string,
    at: Date,
    windowStart: Date,
    staleBefore: Date,
    jobId: string,
  ): Promise<true | PresenceClock>;
  /**
   * Schedules the room's trailing flush, unless one is scheduled already (one due before `staleBefore` is
   * taken as lost and replaced). Returns whether this call scheduled it.
   */
  scheduleFlush(room: string, due: Date, jobId: string, staleBefore: Date): Promise<boolean>;
  /**
   * Starts the scheduled flush `jobId` at `now`: succeeds while it is still the room's scheduled flush and the
   * last flush was at or before `windowStart`; then sets the last flush to `now`, clears the schedule and keeps
   * `jobId` as the flush started last. Succeeds again for that job until another starts, so a replay of this
   * write and a rerun of a job that failed part-way still send. On failure returns the clock, so the caller
   * can tell "too early" from "not mine".
   */
  startScheduledFlush(room: string, jobId: string, now: Date, windowStart: Date): Promise<true | PresenceClock>;
  /** The room's pending changes, oldest first (those of one millisecond by member, then revision), at most `limit`. */
  pending(room: string, limit: number): Promise<readonly PendingChange[]>;
  /** The room's clock as it is now. */
  clock(room: string): Promise<PresenceClock>;
  /** Forgets announced changes. Forgetting a key that is not kept is not an error. */
  forget(room: string, keys: readonly string[]): Promise<void>;
}
