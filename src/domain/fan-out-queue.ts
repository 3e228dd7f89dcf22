import type { ServerFrame } from './frames.ts';

/**
 * One shard of a big room's fan-out: deliver `frame` to page `page` of shard `shard` of the room's listing,
 * the page after `after` (the first without it), and queue the page after it.
 */
export interface ShardJob {
  readonly kind: 'shard';
  /** The fan-out this job is part of: one per message or presence frame, shared by all of its shard jobs. */
  readonly fanOutId: string;
  readonly room: string;
  readonly shard: number;
  /** Which page of its shard: 0 for the first, which has no `after`. With the fan-out and shard, it names the job. */
  readonly page: number;
  readonly after?: string;
  readonly frame: ServerFrame;
}

/**
 * Work that fans a frame out to a room, done by the fan-out worker rather than by the invocation that caused
 * it. `presence`: announce a room's pending membership changes. A job with `claimedAt` was claimed at once
 * (the room announced nothing during the last window); one without is the room's trailing flush. Each acts
 * only while its `jobId` is the room's scheduled flush, or the one it started. `shard`: see {@link ShardJob}.
 */
export type FanOutJob = PresenceJob | ShardJob;

/**
 * A room's presence flush: claimed at once (`claimedAt`) or the room's trailing one, with the id it was
 * scheduled under. A job with `claimedAt` and no `jobId` was queued by a version before claims had one.
 */
export type PresenceJob =
  | { readonly kind: 'presence'; readonly room: string; readonly jobId: string; readonly claimedAt?: string }
  | { readonly kind: 'presence'; readonly room: string; readonly claimedAt: string };

/**
 * Hands jobs to the fan-out worker. Delivery is at least once: a job may run more than once, so every job
 * is safe to repeat. Throws when the job could not be handed over.
 *
 * Each kind of job waits in a queue of its own, run by workers of its own, so that no flood of shard jobs delays a
 * room's presence and no presence churn delays a big room's messages. Coalescing keeps at most one presence job per
 * room waiting (see `PresenceFlush`), so a room's presence is announced within about
 * `window + (rooms with presence to announce / presence workers + 1) × time per presence job`, whatever the churn.
 */
export interface FanOutQueue {
  /** Queues a job to run no earlier than `delayMs` from now (rounded up to what the queue supports). */
  enqueue(job: FanOutJob, delayMs?: number): Promise<void>;
  /**
   * Queues jobs to run at once, in as few requests as the queue takes, retrying those it refused. Throws when
   * one still could not be handed over; the others may have been.
   */
  enqueueAll(jobs: readonly FanOutJob[]): Promise<void>;
}
