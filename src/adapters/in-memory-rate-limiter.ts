import type { Admission, RateLimit, RateLimiter } from '../domain/rate-limiter.ts';

/** A fixed-window budget per connection in this process's memory: for a single process, and for tests. */
export class InMemoryRateLimiter implements RateLimiter {
  readonly #limit: RateLimit;
  readonly #now: () => Date;
  readonly #windows = new Map<string, { window: number; count: number; notified: boolean }>();

  constructor(limit: RateLimit, now: () => Date = () => new Date()) {
    this.#limit = limit;
    this.#now = now;
  }

  async admit(connectionId: string): Promise<Admission> {
    const window = Math.floor(this.#now().getTime() / 1000 / this.#limit.windowSeconds);
    const current = this.#windows.get(connectionId);
    const state = current !== undefined && current.window === window ? current : { window, count: 0, notified: false };
    this.#windows.set(connectionId, state);
    if (state.count < this.#limit.frames) {
      state.count += 1;
      return 'allowed';
    }
    if (state.notified) return 'limited';
    state.notified = true;
    return 'limited-notify';
  }
}
