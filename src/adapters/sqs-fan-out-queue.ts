import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { FanOutJob, FanOutQueue } from '../domain/fan-out-queue.ts';

export interface SqsFanOutQueueOptions {
  /** The queue's URL, as CloudFormation's `Ref` of an `AWS::SQS::Queue` gives it. */
  readonly queueUrl: string;
}

/** SQS's longest delay for one message: 15 minutes. */
export const SQS_MAX_DELAY_SECONDS = 900;

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

/** Hands fan-out jobs to the worker through an SQS standard queue, one message per job, its body the job's JSON. */
export class SqsFanOutQueue implements FanOutQueue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(client: SQSClient, options: SqsFanOutQueueOptions) {
    this.#client = client;
    this.#queueUrl = options.queueUrl;
  }

  async enqueue(job: FanOutJob, delayMs?: number): Promise<void> {
    const delaySeconds = delaySecondsFor(delayMs);
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: messageBodyOf(job),
        // Without DelaySeconds the queue's own default applies, which is 0 for this queue.
        ...(delaySeconds > 0 ? { DelaySeconds: delaySeconds } : {}),
      }),
    );
  }
}
