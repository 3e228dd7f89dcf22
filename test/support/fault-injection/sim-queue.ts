import { delaySecondsFor, messageBodyOf } from '../../../src/adapters/sqs-fan-out-queue.ts';
import type { FanOutJob, FanOutQueue } from '../../../src/domain/fan-out-queue.ts';

/** The fan-out queue's visibility timeout (serverless.yml's fanOutVisibilityTimeout): a failed job comes back this late. */
export const VISIBILITY_TIMEOUT_MS = 180_000;

/** A message on the queue: its body as SQS carries it, when it may be received next, and how often it was. */
export interface QueuedMessage {
  readonly body: string;
  dueAt: number;
  receives: number;
  readonly order: number;
}

/**
 * The fan-out queue as SQS behaves, on a simulated clock: a job is due after its delay (whole seconds), a
 * received job that failed comes back after the visibility timeout, and every job that was accepted is
 * delivered until it succeeds. Faults on `enqueue` (the proxy's) are a send that failed: that job is never
 * delivered. Late, repeated and reordered deliveries are the worker's to choose when it takes jobs.
 */
export class SimQueue implements FanOutQueue {
  readonly #now: () => Date;
  #messages: QueuedMessage[] = [];
  #sent = 0;

  constructor(now: () => Date) {
    this.#now = now;
  }

  async enqueue(job: FanOutJob, delayMs?: number): Promise<void> {
    this.#put(messageBodyOf(job), this.#now().getTime() + delaySecondsFor(delayMs) * 1000, 0);
  }

  async enqueueAll(jobs: readonly FanOutJob[]): Promise<void> {
    for (const job of jobs) await this.enqueue(job);
  }

  /** Queues a message body as SQS received it, due after `delaySeconds`: what the SQS bridge hands on. */
  deliver(body: string, delaySeconds: number): void {
    this.#put(body, this.#now().getTime() + delaySeconds * 1000, 0);
  }

  /** Takes the messages due now, oldest first. */
  takeDue(): QueuedMessage[] {
    const now = this.#now().getTime();
    const due = this.#messages.filter((message) => message.dueAt <= now);
    this.#messages = this.#messages.filter((message) => message.dueAt > now);
    return due.sort((a, b) => a.dueAt - b.dueAt || a.order - b.order);
  }

  /** Puts a message taken back, due at `dueAt`: after a failed run, a late delivery, or a repeat. */
  putBack(message: QueuedMessage, dueAt: number): void {
    this.#put(message.body, dueAt, message.receives);
  }

  /** When the next message is due, if any is queued. */
  nextDueAt(): number | undefined {
    return this.#messages.reduce<number | undefined>(
      (min, m) => (min === undefined || m.dueAt < min ? m.dueAt : min),
      undefined,
    );
  }

  get size(): number {
    return this.#messages.length;
  }

  #put(body: string, dueAt: number, receives: number): void {
    this.#sent += 1;
    this.#messages.push({ body, dueAt, receives, order: this.#sent });
  }
}
