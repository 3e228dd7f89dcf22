import type { PendingChange, PresenceChange, PresenceClock, PresenceLog, PresenceRecord } from '../domain/presence.ts';

interface Room {
  members: number;
  lastFlushAt?: Date;
  lastChangeAt?: Date;
  scheduled?: { due: Date; jobId: string };
  /** The job of the flush started last. */
  started?: string;
  pending: Map<string, PresenceChange>;
}

/** Keeps each room's pending presence changes and clock in this process's memory: for tests. */
export class InMemoryPresenceLog implements PresenceLog {
  readonly #rooms = new Map<string, Room>();

  /**
   * Keeps the records at once, with no await: the in-memory connection repository calls it in the same step as
   * the connection change that causes them. Not part of the port; tests also use it to seat members.
   */
  keep(records: readonly PresenceRecord[]): void {
    for (const { room, change, memberDelta } of records) {
      const state = this.#room(room);
      state.pending.set(`${Date.parse(change.at)}#${change.connectionId}#${change.rev}`, change);
      state.members += memberDelta;
      state.lastChangeAt = new Date(change.at);
    }
  }

  /** Keeps one change, as {@link keep} does, and returns the room's clock after it. */
  async record(room: string, change: PresenceChange, memberDelta: number): Promise<PresenceClock> {
    this.keep([{ room, change, memberDelta }]);
    return clockOf(this.#room(room));
  }

  async claimFlush(
    room: string,
    lastFlushAt: Date | undefined,
    at: Date,
    windowStart: Date,
    staleBefore: Date,
    jobId: string,
  ): Promise<boolean> {
    const state = this.#room(room);
    if (state.lastFlushAt?.getTime() !== lastFlushAt?.getTime()) return false;
    if (lastFlushAt !== undefined && lastFlushAt > windowStart) return false;
    if (state.scheduled !== undefined && state.scheduled.due >= staleBefore) return false;
    state.lastFlushAt = at;
    state.scheduled = { due: at, jobId };
    return true;
  }

  async requestFlush(
    room: string,
    at: Date,
    windowStart: Date,
    staleBefore: Date,
    jobId: string,
  ): Promise<true | PresenceClock> {
    const state = this.#room(room);
    const windowOpen = state.lastFlushAt === undefined || state.lastFlushAt <= windowStart;
    if (!windowOpen || (state.scheduled !== undefined && state.scheduled.due >= staleBefore)) return clockOf(state);
    state.lastFlushAt = at;
    state.scheduled = { due: at, jobId };
    return true;
  }

  async scheduleFlush(room: string, due: Date, jobId: string, staleBefore: Date): Promise<boolean> {
    const state = this.#room(room);
    if (state.scheduled !== undefined && state.scheduled.due >= staleBefore) return false;
    state.scheduled = { due, jobId };
    return true;
  }

  async startScheduledFlush(room: string, jobId: string, now: Date, windowStart: Date): Promise<true | PresenceClock> {
    const state = this.#room(room);
    if (state.started === jobId) return true;
    const early = state.lastFlushAt !== undefined && state.lastFlushAt > windowStart;
    if (state.scheduled?.jobId !== jobId || early) return clockOf(state);
    state.lastFlushAt = now;
    state.started = jobId;
    delete state.scheduled;
    return true;
  }

  async pending(room: string, limit: number): Promise<readonly PendingChange[]> {
    return [...this.#room(room).pending]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, limit)
      .map(([key, change]) => ({ key, change }));
  }

  async clock(room: string): Promise<PresenceClock> {
    return clockOf(this.#room(room));
  }

  async forget(room: string, keys: readonly string[]): Promise<void> {
    const state = this.#room(room);
    for (const key of keys) state.pending.delete(key);
  }

  #room(room: string): Room {
    let state = this.#rooms.get(room);
    if (state === undefined) {
      state = { members: 0, pending: new Map() };
      this.#rooms.set(room, state);
    }
    return state;
  }
}

function clockOf(state: Room): PresenceClock {
  return {
    members: Math.max(0, state.members),
    ...(state.lastFlushAt !== undefined ? { lastFlushAt: state.lastFlushAt } : {}),
    ...(state.lastChangeAt !== undefined ? { lastChangeAt: state.lastChangeAt } : {}),
    ...(state.scheduled !== undefined ? { scheduled: { ...state.scheduled } } : {}),
  };
}
