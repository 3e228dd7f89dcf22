/**
 * Lambda's SQS event source, for a local queue: polls it, invokes the function with batches shaped as Lambda's SQS
 * events, and deletes what the function completed. Failed records are left alone, so they come back after the
 * queue's visibility timeout and, past the redrive policy's maxReceiveCount, move to its dead-letter queue.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';

/** What an invocation came to: the function's result, or the error it failed with (thrown, timed out). */
export type InvocationOutcome = { readonly result: unknown } | { readonly error: string };

export interface SqsEventSourceOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  /** The function, for log lines. */
  readonly functionName: string;
  /** Most records in one invocation (SQS's own limit per receive is 10; more are gathered over receives). */
  readonly batchSize: number;
  /** How long to gather records for a batch that is not full yet; 0 invokes with what one receive returned. */
  readonly maximumBatchingWindowSeconds: number;
  /** Invocations in flight at most; each poller runs one at a time. */
  readonly maximumConcurrency: number;
  /** `ReportBatchItemFailures`: the result's `batchItemFailures` name the records to deliver again. */
  readonly reportBatchItemFailures: boolean;
  /** The function's timeout; a queue whose visibility timeout is shorter is reported, as AWS refuses it. */
  readonly functionTimeoutSeconds?: number;
  /** Long poll of each receive, in seconds; also how long stop() may wait for a poller. */
  readonly waitTimeSeconds?: number;
  readonly invoke: (event: SQSEvent) => Promise<InvocationOutcome>;
  readonly log?: (line: string) => void;
}

/** What one batch came to, for the log and the tests. */
export interface BatchReport {
  readonly records: number;
  readonly failed: number;
  /** The whole batch failed: the function threw, or its response was not one Lambda accepts. */
  readonly wholeBatchFailed: boolean;
  /** From the oldest record's SentTimestamp to the start of the invocation. */
  readonly oldestAgeMs: number;
  readonly invocationMs: number;
}

const batchResponseShape = (result: unknown): { batchItemFailures?: unknown } | undefined =>
  typeof result === 'object' && result !== null ? (result as { batchItemFailures?: unknown }) : undefined;

/**
 * The records of a batch to deliver again, as Lambda reads a ReportBatchItemFailures response: none when the
 * response is empty or has no failures; all when one failure names no record of the batch (Lambda then fails the
 * whole batch).
 */
export function failedRecords(batch: readonly SQSRecord[], result: unknown): Set<string> | 'all' {
  const failures = batchResponseShape(result)?.batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return 'all';
  const ids = new Set(batch.map((record) => record.messageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id =
      typeof failure === 'object' && failure !== null
        ? (failure as { itemIdentifier?: unknown }).itemIdentifier
        : undefined;
    if (typeof id !== 'string' || !ids.has(id)) return 'all';
    failed.add(id);
  }
  return failed;
}

function messageAttributesOf(message: Message): SQSMessageAttributes {
  const attributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    attributes[name] = {
      dataType: value.DataType ?? 'String',
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') } : {}),
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return attributes;
}

/** A received message as a record of Lambda's SQS event. */
export function recordOf(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'AIDAOFFLINE',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: messageAttributesOf(message),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes !== undefined ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/** One queue polled for one function, by `maximumConcurrency` pollers. */
export class SqsEventSource {
  readonly #options: SqsEventSourceOptions;
  readonly #log: (line: string) => void;
  readonly #stopping = new AbortController();
  readonly #pollers: Promise<void>[] = [];
  readonly #reports: Array<(report: BatchReport) => void> = [];
  #queueArn = '';
  #region = '';

  constructor(options: SqsEventSourceOptions) {
    if (!(options.batchSize >= 1)) throw new RangeError(`batchSize must be at least 1, got ${options.batchSize}`);
    if (!(options.maximumConcurrency >= 1))
      throw new RangeError(`maximumConcurrency must be at least 1, got ${options.maximumConcurrency}`);
    this.#options = options;
    this.#log = options.log ?? (() => undefined);
  }

  /** Calls `listener` after each batch. */
  onBatch(listener: (report: BatchReport) => void): this {
    this.#reports.push(listener);
    return this;
  }

  /** Reads the queue's ARN and visibility timeout (as Lambda does when the mapping is made), then starts polling. */
  async start(): Promise<void> {
    const { client, queueUrl, functionName, functionTimeoutSeconds } = this.#options;
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'VisibilityTimeout'] }),
    );
    this.#queueArn = Attributes?.QueueArn ?? '';
    this.#region = this.#queueArn.split(':')[3] ?? '';
    const visibility = Number(Attributes?.VisibilityTimeout);
    if (functionTimeoutSeconds !== undefined && visibility < functionTimeoutSeconds) {
      this.#log(
        `${this.#queueArn}: visibility timeout ${visibility} s is shorter than ${functionName}'s timeout ` +
          `${functionTimeoutSeconds} s; AWS refuses such an event source`,
      );
    }
    for (let poller = 0; poller < this.#options.maximumConcurrency; poller += 1) this.#pollers.push(this.#poll());
  }

  /** Stops polling; resolves once every poller has finished its batch. Records in flight come back later. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await Promise.all(this.#pollers);
  }

  async #poll(): Promise<void> {
    while (!this.#stopping.signal.aborted) {
      try {
        const messages = await this.#receiveBatch();
        if (messages.length > 0) await this.#runBatch(messages);
      } catch (error) {
        if (this.#stopping.signal.aborted) return;
        // A poller never dies: report, back off, and poll again.
        this.#log(`${this.#options.functionName}: polling ${this.#options.queueUrl} failed: ${String(error)}`);
        await sleep(1_000, undefined, { signal: this.#stopping.signal }).catch(() => undefined);
      }
    }
  }

  /** Up to batchSize messages: the first receive waits for one, the batching window for the rest. */
  async #receiveBatch(): Promise<Message[]> {
    const { batchSize, maximumBatchingWindowSeconds, waitTimeSeconds = 2 } = this.#options;
    const messages = await this.#receive(batchSize, waitTimeSeconds);
    if (messages.length === 0 || maximumBatchingWindowSeconds <= 0) return messages;
    const closesAt = Date.now() + maximumBatchingWindowSeconds * 1000;
    while (messages.length < batchSize && Date.now() < closesAt && !this.#stopping.signal.aborted) {
      // A long poll is never cut short by the window: a message the queue handed to an abandoned receive would
      // stay invisible for the visibility timeout, and count as a receive. Under a second left, poll short.
      const waitSeconds = Math.min(20, Math.floor((closesAt - Date.now()) / 1000));
      const more = await this.#receive(batchSize - messages.length, waitSeconds);
      messages.push(...more);
      if (more.length === 0 && waitSeconds === 0)
        await sleep(Math.min(50, Math.max(0, closesAt - Date.now())), undefined, {
          signal: this.#stopping.signal,
        }).catch(() => undefined);
    }
    return messages;
  }

  async #receive(count: number, waitSeconds: number): Promise<Message[]> {
    try {
      const { Messages } = await this.#options.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.#options.queueUrl,
          MaxNumberOfMessages: Math.min(10, count),
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        // Only stop() cuts a long poll short; what that receive took comes back after the visibility timeout.
        { abortSignal: this.#stopping.signal },
      );
      return Messages ?? [];
    } catch (error) {
      if (error instanceof Error && error.name === 'AbortError') return [];
      throw error;
    }
  }

  async #runBatch(messages: readonly Message[]): Promise<void> {
    const { functionName, reportBatchItemFailures, invoke } = this.#options;
    const records = messages.map((message) => recordOf(message, this.#queueArn, this.#region));
    const started = Date.now();
    const oldestAgeMs = started - Math.min(...records.map((record) => Number(record.attributes.SentTimestamp)));
    let outcome: InvocationOutcome;
    try {
      outcome = await invoke({ Records: records });
    } catch (error) {
      outcome = { error: String(error) };
    }
    const invocationMs = Date.now() - started;
    let failed: Set<string> | 'all';
    if ('error' in outcome) {
      this.#log(
        `${functionName}: the invocation failed, so every record of its batch will be delivered again: ${outcome.error}`,
      );
      failed = 'all';
    } else {
      failed = reportBatchItemFailures ? failedRecords(records, outcome.result) : new Set();
      if (failed === 'all')
        this.#log(`${functionName}: its batchItemFailures name no record of the batch, so the whole batch failed`);
    }
    const done = failed === 'all' ? [] : records.filter((record) => !failed.has(record.messageId));
    await this.#delete(done);
    const report: BatchReport = {
      records: records.length,
      failed: records.length - done.length,
      wholeBatchFailed: failed === 'all',
      oldestAgeMs,
      invocationMs,
    };
    this.#log(
      `${functionName} <- ${this.#queueName()}: ${report.records} record(s), ${report.failed} failed; ` +
        `oldest sent ${oldestAgeMs} ms before the invocation, which took ${invocationMs} ms`,
    );
    for (const listener of this.#reports) listener(report);
  }

  /** The polled queue's name, the last part of its URL, for log lines. */
  #queueName(): string {
    return this.#options.queueUrl.split('/').at(-1) ?? this.#options.queueUrl;
  }

  async #delete(records: readonly SQSRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += 10) {
      const chunk = records.slice(start, start + 10);
      const { Failed } = await this.#options.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.#options.queueUrl,
          Entries: chunk.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
        }),
      );
      // A record whose delete failed (its receipt expired) comes back: at least once, as on AWS.
      for (const failure of Failed ?? [])
        this.#log(
          `${this.#options.functionName}: could not delete a completed record: ${failure.Message ?? failure.Code}`,
        );
    }
  }
}
