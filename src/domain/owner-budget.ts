import type { ConnectionOwners } from './connection-quota.ts';

/**
 * An owner's budget: `frames` units (a frame's weight, see the rate limiter) that refill evenly over `windowSeconds`,
 * and a full budget to start with. Over any `windowSeconds` an owner is admitted at most twice `frames` units,
 * however many connections it opens and however often it reconnects.
 */
export interface OwnerBudgetLimit {
  readonly frames: number;
  readonly windowSeconds: number;
}

/**
 * What the frames and the connects of one owner may cost, counted alike by every Lambda container: the user when
 * the chat authenticates, else the address (see {@link budgetOwnerOf}). A connection's own rate limit still applies;
 * this one bounds what reconnecting, or opening more connections, can add to it.
 */
export interface OwnerBudget {
  /**
   * Spends `weight` units of the owner's budget when it has them left: `allowed`; else nothing is spent and the frame
   * is refused: `limited-notify` for the first refusal this budget tells of, `limited` for the ones after it, so
   * that a flood gets one error frame, not a flood of them.
   */
  spend(owner: string, weight: number): Promise<'allowed' | 'limited' | 'limited-notify'>;
  /**
   * Spends `weight` units whether the owner has them or not: a connect, which its save admitted while the owner had
   * them left (see `ConnectionRepository.saveWithSlots`). An owner that keeps reconnecting spends its budget on it,
   * and its frames and its next connects are refused.
   */
  charge(owner: string, weight: number): Promise<void>;
}

/** A save's check that the owner has `weight` units of its budget left: the save is refused when it has not. */
export interface BudgetCheck {
  readonly owner: string;
  readonly weight: number;
}

/** The owner whose budget a connection spends: its verified user, else its address; `undefined` when neither is known. */
export function budgetOwnerOf(owners: ConnectionOwners): string | undefined {
  if (owners.userId !== undefined) return `user:${owners.userId}`;
  return owners.sourceIp !== undefined ? `ip:${owners.sourceIp}` : undefined;
}

/**
 * The budget as a "theoretical arrival time" (the generic cell rate algorithm): the instant, in ms, at which the owner
 * will have its whole budget back. Each unit spent moves it `interval` later; the owner may spend while it stays
 * within one window of now. Storing that one instant is the whole state: nothing to reset when a window ends.
 */
export interface BudgetClock {
  /** ms per unit: the window over its frames. */
  readonly interval: number;
  /** ms: the most the full-budget instant may lie ahead of now, the window. */
  readonly tolerance: number;
}

export function budgetClock(limit: OwnerBudgetLimit): BudgetClock {
  const tolerance = limit.windowSeconds * 1000;
  return { interval: tolerance / limit.frames, tolerance };
}

/** The full-budget instant after spending `weight` units at `now`, from the stored one (`undefined`: never spent). */
export function spentUntil(stored: number | undefined, now: number, weight: number, clock: BudgetClock): number {
  return Math.max(stored ?? now, now) + weight * clock.interval;
}

/** Whether spending `weight` units at `now` keeps the owner within its budget. */
export function withinBudget(stored: number | undefined, now: number, weight: number, clock: BudgetClock): boolean {
  return spentUntil(stored, now, weight, clock) - now <= clock.tolerance;
}
