import type { FanOutJob, FanOutQueue } from '../domain/fan-out-queue.ts';
import { delaySecondsFor, messageBodyOf } from './sqs-fan-out-queue.ts';

interface QueuedJob {
  readonly kind: FanOutJob['kind'];
  readonly body: string;
  readonly dueAt: number;
  readonly order: number;
}

/**
 * Fan-out jobs in this process's memory, for tests: each job is kept as the JSON SQS would carry, in the queue of its
 * kind, due when SQS would deliver it (the delay rounded up to whole seconds, at most 15 minutes) by an injected
 * clock; a test takes the due jobs and runs them.
 */
export class InMemoryFanOutQueue implements FanOutQueue {
  readonly #now: () => Date;
  #queued: QueuedJob[] = [];
  #enqueued = 0;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  async enqueue(job: FanOutJob, delayMs?: number): Promise<void> {
    this.#enqueued += 1;
    this.#queued.push({
      kind: job.kind,
      body: messageBodyOf(job),
      dueAt: this.#now().getTime() + delaySecondsFor(delayMs) * 1000,
      order: this.#enqueued,
    });
  }

  async enqueueAll(jobs: readonly FanOutJob[]): Promise<void> {
    for (const job of jobs) await this.enqueue(job);
  }

  /**
   * Removes and returns the jobs due at `now` (by default the clock's now), earliest due first, each as a fresh copy:
   * of one kind, as that kind's queue holds them apart from the others, or of every kind.
   */
  takeDue(now: Date = this.#now(), kind?: FanOutJob['kind']): FanOutJob[] {
    const taken = (job: QueuedJob): boolean => job.dueAt <= now.getTime() && (kind === undefined || job.kind === kind);
    const due = this.#queued.filter(taken);
    this.#queued = this.#queued.filter((job) => !taken(job));
    return due.sort((a, b) => a.dueAt - b.dueAt || a.order - b.order).map((job) => JSON.parse(job.body) as FanOutJob);
  }

  /** The jobs not taken yet, due or not, each with the time it is due. */
  pending(): Array<{ readonly job: FanOutJob; readonly dueAt: Date }> {
    return this.#queued.map((job) => ({ job: JSON.parse(job.body) as FanOutJob, dueAt: new Date(job.dueAt) }));
  }
}
