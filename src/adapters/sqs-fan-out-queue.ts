import { setTimeout as sleep } from 'node:timers/promises';
import {
  type BatchResultErrorEntry,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { FanOutJob, FanOutQueue } from '../domain/fan-out-queue.ts';

export interface SqsFanOutQueueOptions {
  /**
   * The queue of each kind of job, by its URL as CloudFormation's `Ref` of an `AWS::SQS::Queue` gives it: presence
   * flushes and shard jobs each have a queue, and the worker an event source per queue, so that a flood of one kind
   * never waits in front of the other.
   */
  readonly queueUrls: Readonly<Record<FanOutJob['kind'], string>>;
}

/** SQS's longest delay for one message: 15 minutes. */
export const SQS_MAX_DELAY_SECONDS = 900;

/** SendMessageBatch takes at most 10 messages, of at most 256 KiB together (a queue's limit before 2025, and a queue's own may be as low). */
const MAX_BATCH_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024;

/** How often a batch's refused messages are sent: the SDK retries a request that failed, not one message of it. */
const BATCH_ATTEMPTS = 3;

/** Jobs SQS would not take, after their retries. */
export class FanOutQueueError extends Error {
  override readonly name = 'FanOutQueueError';
}

/** The bodies in batches SendMessageBatch takes, in their order: up to 10, and up to its bytes (a larger one alone). */
export function batchesOf(bodies: readonly string[]): string[][] {
  const batches: string[][] = [];
  let batch: string[] = [];
  let bytes = 0;
  for (const body of bodies) {
    // The bodies are ASCII (messageBodyOf), so their length is their size.
    if (batch.length === MAX_BATCH_ENTRIES || (batch.length > 0 && bytes + body.length > MAX_BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(body);
    bytes += body.length;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** The whole seconds SQS delays a message for `delayMs`: rounded up, so a job never runs early, and capped at SQS's maximum. */
export function delaySecondsFor(delayMs: number | undefined): number {
  if (delayMs === undefined || !(delayMs > 0)) return 0;
  return Math.min(Math.ceil(delayMs / 1000), SQS_MAX_DELAY_SECONDS);
}

/**
 * The job's JSON in ASCII: SQS refuses some characters that JSON leaves as they are (U+FFFE, U+FFFF, and, in local
 * emulators, anything beyond U+FFFF), so every other character travels as a `\uXXXX` escape, which parses back the same.
 */
export function messageBodyOf(job: FanOutJob): string {
  return JSON.stringify(job).replace(
    /[\u007f-\uffff]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Hands fan-out jobs to the worker through SQS standard queues, one per kind of job, one message per job, its body
 * the job's JSON; jobs queued together go in batches.
 */
export class SqsFanOutQueue implements FanOutQueue {
  readonly #client: SQSClient;
  readonly #queueUrls: SqsFanOutQueueOptions['queueUrls'];

  constructor(client: SQSClient, options: SqsFanOutQueueOptions) {
    this.#client = client;
    this.#queueUrls = options.queueUrls;
  }

  async enqueue(job: FanOutJob, delayMs?: number): Promise<void> {
    const delaySeconds = delaySecondsFor(delayMs);
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrls[job.kind],
        MessageBody: messageBodyOf(job),
        // Without DelaySeconds the queue's own default applies, which is 0 for this queue.
        ...(delaySeconds > 0 ? { DelaySeconds: delaySeconds } : {}),
      }),
    );
  }

  async enqueueAll(jobs: readonly FanOutJob[]): Promise<void> {
    const kinds = [...new Set(jobs.map((job) => job.kind))];
    for (const kind of kinds) {
      const bodies = jobs.filter((job) => job.kind === kind).map(messageBodyOf);
      for (const batch of batchesOf(bodies)) await this.#sendBatch(this.#queueUrls[kind], batch);
    }
  }

  async #sendBatch(queueUrl: string, bodies: readonly string[]): Promise<void> {
    let entries = bodies.map((body, i) => ({ Id: String(i), MessageBody: body }));
    for (let attempt = 1; ; attempt += 1) {
      const { Failed = [] } = await this.#client.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
      );
      if (Failed.length === 0) return;
      // A sender's fault (a body SQS refuses) would be refused again; SQS's own is worth another try.
      if (attempt === BATCH_ATTEMPTS || Failed.some((failure) => failure.SenderFault === true)) {
        throw new FanOutQueueError(`SQS did not take ${Failed.length} of ${bodies.length} jobs: ${codesOf(Failed)}`);
      }
      const failed = new Set(Failed.map((failure) => failure.Id));
      entries = entries.filter((entry) => failed.has(entry.Id));
      await sleep(Math.random() * 50 * attempt);
    }
  }
}

function codesOf(failures: readonly BatchResultErrorEntry[]): string {
  return [...new Set(failures.map((failure) => failure.Code ?? 'unknown'))].join(', ');
}
