/**
 * A token bucket for everything the page sends: up to `capacity` frames at once, then one more every
 * `refillMs`. However a link is crafted or a timer misbehaves, the page cannot send faster than that.
 */
export class SendLimiter {
  readonly #capacity: number;
  readonly #refillMs: number;
  readonly #now: () => number;
  #tokens: number;
  #updatedAt: number;

  constructor(capacity: number, refillMs: number, now: () => number = () => performance.now()) {
    this.#capacity = capacity;
    this.#refillMs = refillMs;
    this.#now = now;
    this.#tokens = capacity;
    this.#updatedAt = now();
  }

  /** Takes one frame's allowance; false when there is none left right now. */
  tryTake(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** How long until `tryTake` can succeed: 0 when it can now. */
  msUntilNext(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) * this.#refillMs);
  }

  #refill(): void {
    const now = this.#now();
    // A clock that steps back (a page restored from the back-forward cache) refills nothing.
    const elapsed = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed / this.#refillMs);
    this.#updatedAt = now;
  }
}
