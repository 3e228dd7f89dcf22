import type { ShardJob } from './fan-out-queue.ts';

/**
 * Which shard jobs have completed, and where each page after the first starts. A job that ran to the end is
 * recorded, so that a copy of it (SQS delivers at least once, and a job queues the next page's job) does
 * nothing; a page's cursor is recorded once, so that every run of the page before queues the same job: a
 * failed job is run again, but a chain of pages is never run twice over.
 */
export interface ShardProgress {
  /** Whether the job with this key completed. */
  isComplete(key: string): Promise<boolean>;
  /** Records that the job with this key completed; kept for at least a day. */
  complete(key: string): Promise<void>;
  /**
   * Records `after` as the cursor of the job with this key unless one is recorded already, and returns the
   * recorded one; kept for at least a day.
   */
  recordCursor(key: string, after: string): Promise<string>;
}

/** The key of a shard job: its fan-out, its shard, and the page of that shard it delivers. */
export function shardJobKey(job: Pick<ShardJob, 'fanOutId' | 'shard' | 'page'>): string {
  return `${job.fanOutId}#${job.shard}#${job.page}`;
}
