import { InMemoryFanOutQueue } from '../../src/adapters/in-memory-fan-out-queue.ts';
import type { ChatService } from '../../src/domain/chat-service.ts';
import type { FanOutJob, FanOutQueue } from '../../src/domain/fan-out-queue.ts';

/**
 * The fan-out worker in the test's process: jobs wait in an {@link InMemoryFanOutQueue} (proven by the
 * queue's contract suite) and run through the real service (`flushPresence`, `deliverShard`) when due. With `runAtOnce`,
 * a job due at once runs before `enqueue` returns, as if the worker were instant.
 */
export class InProcessFanOut implements FanOutQueue {
  readonly queue: InMemoryFanOutQueue;
  readonly #runAtOnce: boolean;
  #service: ChatService | undefined;
  /** Every job handed over, in order. */
  readonly enqueued: Array<{ readonly job: FanOutJob; readonly delayMs: number }> = [];

  constructor(now: () => Date, options: { runAtOnce?: boolean } = {}) {
    this.queue = new InMemoryFanOutQueue(now);
    this.#runAtOnce = options.runAtOnce ?? true;
  }

  /** The service whose flushPresence runs the jobs. */
  attach(service: ChatService): void {
    this.#service = service;
  }

  async enqueue(job: FanOutJob, delayMs = 0): Promise<void> {
    this.enqueued.push({ job, delayMs });
    await this.queue.enqueue(job, delayMs);
    if (this.#runAtOnce && delayMs <= 0) await this.runDue();
  }

  /** Queues each job as {@link enqueue} does (so a test that replaces `enqueue` fails a batch part-way). */
  async enqueueAll(jobs: readonly FanOutJob[]): Promise<void> {
    for (const job of jobs) await this.enqueue(job);
  }

  /** Runs every job due at `now` (by default the clock's), and any that those make due, until none is. */
  async runDue(now?: Date): Promise<number> {
    const service = this.#service;
    if (service === undefined) throw new Error('attach the service before running jobs');
    let ran = 0;
    for (let jobs = this.queue.takeDue(now); jobs.length > 0; jobs = this.queue.takeDue(now)) {
      for (const job of jobs) {
        if (job.kind === 'shard') await service.deliverShard(job);
        else await service.flushPresence(job);
        ran += 1;
      }
    }
    return ran;
  }
}
