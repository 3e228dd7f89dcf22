import { DeliveryError } from '../src/domain/errors.ts';
import type { ServerFrame } from '../src/domain/frames.ts';
import type { DeliveryOutcome, Messenger } from '../src/domain/messenger.ts';
import { normal } from './stats.ts';

/** Latency of one PostToConnection round trip: lognormal around a median, plus a rare slow tail. */
export interface LatencyModel {
  readonly medianMs: number;
  /** Standard deviation of ln(latency); 0.5 puts p99 at about 3.2x the median. */
  readonly sigma: number;
  /** Share of calls that also wait `tailMs` to `2 * tailMs` more. */
  readonly tailShare: number;
  readonly tailMs: number;
}

/** What API Gateway answers for one connection: decided up front so the run can be checked afterwards. */
export type Fate = 'healthy' | 'gone' | 'throttled';

/**
 * The account's PostToConnection budget as a token bucket (GCRA). `queue` makes a call wait for its token,
 * as a client-side pacer would; `reject` answers 429 and replays the SDK's standard retry strategy
 * (full-jitter backoff from 100 ms, a shared retry quota of 500 that a throttling retry draws 5 from).
 */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
  readonly onLimit: 'queue' | 'reject';
  readonly maxAttempts: number;
}

export interface SimulatedMessengerOptions {
  readonly latency: LatencyModel;
  readonly rateLimit: RateLimit;
  readonly fateOf: (connectionId: string) => Fate;
  readonly random: () => number;
  /** Called once per send, before any waiting; the bench counts calls per recipient with it. */
  readonly onSend?: (connectionId: string) => void;
  /**
   * Wall-clock µs each attempt keeps the CPU busy (a busy-wait), as the real messenger's measured CPU per delivery
   * divided by the Lambda's share of a vCPU; 0 charges nothing.
   */
  readonly spinUsPerAttempt?: number;
}

/** Keeps this thread busy for `us` microseconds, as signing, serialising and the HTTP client would. */
function spin(us: number): void {
  if (us <= 0) return;
  const until = performance.now() + us / 1000;
  while (performance.now() < until) {
    // busy: the event loop is blocked exactly as by real per-send CPU work
  }
}

const sleep = (ms: number): Promise<void> =>
  ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));

const encoder = new TextEncoder();

/** A Messenger with API Gateway's latency, answers and rate limit, and no network. */
export class SimulatedMessenger implements Messenger {
  readonly #options: SimulatedMessengerOptions;
  readonly #intervalMs: number;
  readonly #toleranceMs: number;
  #theoreticalArrival = 0;
  #retryQuota = 500;
  /** Time calls held a concurrency slot for service (round trips and backoff), excluding waits for a token. */
  serviceMs = 0;
  tokenWaitMs = 0;
  rejectedAttempts = 0;

  constructor(options: SimulatedMessengerOptions) {
    this.#options = options;
    this.#intervalMs = 1000 / options.rateLimit.perSecond;
    this.#toleranceMs = options.rateLimit.burst * this.#intervalMs;
  }

  async send(connectionId: string, frame: ServerFrame): Promise<DeliveryOutcome> {
    this.#options.onSend?.(connectionId);
    // The real adapter serialises every frame; keep that cost in the measurement.
    encoder.encode(JSON.stringify(frame));
    const fate = this.#options.fateOf(connectionId);
    const { maxAttempts } = this.#options.rateLimit;
    for (let attempt = 1; ; attempt += 1) {
      const admitted = await this.#admit();
      spin(this.#options.spinUsPerAttempt ?? 0);
      const roundTrip = this.#latency();
      this.serviceMs += roundTrip;
      await sleep(roundTrip);
      if (admitted && fate !== 'throttled') {
        if (attempt === 1) this.#retryQuota = Math.min(500, this.#retryQuota + 1);
        return fate === 'gone' ? 'gone' : 'delivered';
      }
      if (!admitted) this.rejectedAttempts += 1;
      if (attempt >= maxAttempts || this.#retryQuota < 5) {
        throw new DeliveryError(connectionId, 'throttled');
      }
      this.#retryQuota -= 5;
      const backoff = this.#options.random() * Math.min(20_000, 100 * 2 ** attempt);
      this.serviceMs += backoff;
      await sleep(backoff);
    }
  }

  /** Takes a token; in `queue` mode waits for it, in `reject` mode reports whether there was one. */
  async #admit(): Promise<boolean> {
    const now = performance.now();
    const arrival = Math.max(this.#theoreticalArrival, now);
    const wait = arrival - this.#toleranceMs - now;
    if (wait > 0 && this.#options.rateLimit.onLimit === 'reject') return false;
    this.#theoreticalArrival = arrival + this.#intervalMs;
    if (wait > 0) {
      this.tokenWaitMs += wait;
      await sleep(wait);
    }
    return true;
  }

  #latency(): number {
    const { medianMs, sigma, tailShare, tailMs } = this.#options.latency;
    const random = this.#options.random;
    const base = medianMs * Math.exp(sigma * normal(random));
    return random() < tailShare ? base + tailMs * (1 + random()) : base;
  }
}
