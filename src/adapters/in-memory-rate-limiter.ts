import { type Admission, judge, type RateLimit, type RateLimiter } from '../domain/rate-limiter.ts';

/** A fixed-window budget per connection in this process's memory: for a single process, and for tests. */
export class InMemoryRateLimiter implements RateLimiter {
  readonly #limit: RateLimit;
  readonly #now: () => Date;
  readonly #windows = new Map<string, { window: number; count: number }>();

  constructor(limit: RateLimit, now: () => Date = () => new Date()) {
    this.#limit = limit;
    this.#now = now;
  }

  async admit(connectionId: string, weight = 1): Promise<Admission> {
    const window = Math.floor(this.#now().getTime() / 1000 / this.#limit.windowSeconds);
    const current = this.#windows.get(connectionId);
    // A clock that reads an older window than the stored one counts into the stored one.
    const state = current !== undefined && current.window >= window ? current : { window, count: 0 };
    this.#windows.set(connectionId, state);
    state.count += weight;
    return judge(state.count, weight, this.#limit);
  }
}
