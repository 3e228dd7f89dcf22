/**
 * `limited-notify` is the first refusal of a window: the one time the client is told to slow down, so a
 * flood cannot turn into a flood of error frames.
 */
export type Admission = 'allowed' | 'limited' | 'limited-notify';

/** Counts each connection's inbound frames against a budget per time window, shared by every Lambda container. */
export interface RateLimiter {
  /**
   * Counts a frame that costs `weight` (default 1) against its connection's budget. A frame over budget is
   * counted too, so exactly one frame of a window crosses the budget: that one is `limited-notify`.
   */
  admit(connectionId: string, weight?: number): Promise<Admission>;
}

export interface RateLimit {
  /** Frames a connection may send per window, in units of the lightest frame's weight. */
  readonly frames: number;
  readonly windowSeconds: number;
}

/** The admission of a frame of `weight` that brought its window's count to `count`. */
export function judge(count: number, weight: number, limit: RateLimit): Admission {
  if (count <= limit.frames) return 'allowed';
  return count - weight <= limit.frames ? 'limited-notify' : 'limited';
}
