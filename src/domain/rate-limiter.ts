/**
 * `limited-notify` is the first refusal of a window: the one time the client is told to slow down, so a
 * flood cannot turn into a flood of error frames.
 */
export type Admission = 'allowed' | 'limited' | 'limited-notify';

/** Counts each connection's inbound frames against a budget per time window, shared by every Lambda container. */
export interface RateLimiter {
  admit(connectionId: string): Promise<Admission>;
}

export interface RateLimit {
  /** Frames a connection may send per window. */
  readonly frames: number;
  readonly windowSeconds: number;
}
