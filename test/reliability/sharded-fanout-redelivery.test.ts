import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { shardOf } from '../../src/domain/room-shards.ts';
import { createFanOutHandler } from '../../src/handlers/functions/fanout.ts';
import { buildDependencies } from '../../src/handlers/wiring/composition-root.ts';
import { type BatchReport, SqsEventSource } from '../../scripts/sqs-event-source.ts';
import { CountingClient, deliveryTally } from '../support/counting-client.ts';
import { FanOutQueues } from '../support/fan-out-queues.ts';
import { lambdaContext } from '../support/lambda-events.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { recordFigures, tally } from '../support/reliability-figures.ts';

const CLIENTS = 200;
/** 200 members over 8 shards is some 25 a shard: two pages of 20, so a shard's second page is a job of its own. */
const SHARD_SIZE = 20;
/** ROOM_SHARDS's default, which the stack and the worker here keep. */
const ROOM_SHARDS = 8;
/** serverless.yml's maxReceiveCount: the receives after which a job moves to the dead-letter queue. */
const MAX_RECEIVES = 5;
/** The local queue's visibility timeout, in seconds: a failed job comes back this soon (180 s on AWS). */
const VISIBILITY_SECONDS = 2;
const ROOM = 'retries';
const POISON_TEXT = 'a message whose shard job always fails';
const POISON_SHARD = 3;

/** What the worker here saw of one record. */
interface Receipt {
  readonly kind: string;
  /** The message a shard job delivers, if it is one. */
  readonly messageId?: string;
  readonly shard?: number;
  readonly page: 'first' | 'next';
  readonly receiveCount: number;
  readonly outcome: 'ran, then failed' | 'ran' | 'poison';
}

/** A fan-out job's body, loosely read. */
interface JobBody {
  readonly kind?: string;
  readonly shard?: number;
  readonly after?: string;
  readonly frame?: { readonly type?: string; readonly id?: string; readonly text?: string };
}

/** What a job is, from its body. */
function jobOf(body: string): Pick<Receipt, 'kind' | 'messageId' | 'shard' | 'page'> {
  const job = JSON.parse(body) as JobBody;
  return {
    kind: String(job.kind),
    ...(job.frame?.type === 'message' && typeof job.frame.id === 'string' ? { messageId: job.frame.id } : {}),
    ...(typeof job.shard === 'number' ? { shard: job.shard } : {}),
    page: job.after === undefined ? 'first' : 'next',
  };
}

/** The first page's job of one shard of the poison message. */
function isPoison(record: SQSRecord): boolean {
  const job = JSON.parse(record.body) as JobBody;
  return (
    job.kind === 'shard' && job.shard === POISON_SHARD && job.after === undefined && job.frame?.text === POISON_TEXT
  );
}

/**
 * The fan-out worker made to fail, through the local stack: the stack's own event sources are off, and this test
 * polls the fan-out queue of shard jobs (not the presence queue, which no assertion reads) with the same event
 * source (scripts/sqs-event-source.ts), one record a batch,
 * invoking the real worker handler built for the stack's table, queue and @connections API. Wrapped, it fails every
 * job the first time it is received, after running it (as a worker that timed out after sending would), and one
 * shard job of one message always, before running it.
 */
describe('a fan-out worker that fails, through the local stack', () => {
  let stack: TestStack | undefined;
  let queues: FanOutQueues | undefined;
  let source: SqsEventSource | undefined;
  let clients: CountingClient[] = [];
  let connectFailures: string[] = [];
  const ids = new Map<CountingClient, string | undefined>();
  const receipts: Receipt[] = [];
  const batches: BatchReport[] = [];
  const savedEnv = { ...process.env };
  const figures: Record<string, number | string | Record<string, number>> = {};

  function sender(): CountingClient {
    const [first] = clients;
    if (first === undefined) throw new Error('no client connected');
    return first;
  }

  function jobs(): FanOutQueues {
    if (queues === undefined) throw new Error('the local stack did not start');
    return queues;
  }

  /** Polls until `done` holds; false after `timeoutMs`. */
  async function until(done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!(await done())) {
      if (Date.now() >= deadline) return false;
      await sleep(100);
    }
    return true;
  }

  beforeAll(async () => {
    // Every room grown at its first member, so that the poison shard holds members of its own.
    const handlerEnv = { FANOUT_SHARD_SIZE: String(SHARD_SIZE), ROOM_GROW_AT: '0' };
    stack = await startTestStack(
      handlerEnv,
      { fanOutVisibilityTimeout: String(VISIBILITY_SECONDS) },
      { pollQueues: false },
    );
    queues = await FanOutQueues.of(stack);

    // What the SDK and Powertools read from the environment, as Lambda sets it for the worker.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: stack.dynamoDbEndpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_DEV: 'true',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    const deps = buildDependencies({
      ...handlerEnv,
      CHAT_TABLE: stack.tableName,
      WEBSOCKET_MANAGEMENT_ENDPOINT: stack.managementEndpoint,
      FANOUT_QUEUE_URL: queues.jobsUrl,
      PRESENCE_QUEUE_URL: queues.presenceUrl,
      SQS_ENDPOINT: stack.sqsEndpoint,
    });
    const handler = createFanOutHandler(() => deps);
    // Powertools' metrics, disabled, still warn on every invocation that they have nothing to publish.
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const failingWorker = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
      const [record] = event.Records;
      if (record === undefined) return handler(event, context);
      const receipt = { ...jobOf(record.body), receiveCount: Number(record.attributes.ApproximateReceiveCount) };
      if (isPoison(record)) {
        receipts.push({ ...receipt, outcome: 'poison' });
        throw new Error('injected: this shard job always fails');
      }
      const result = await handler(event, context);
      const firstReceive = record.attributes.ApproximateReceiveCount === '1';
      receipts.push({ ...receipt, outcome: firstReceive ? 'ran, then failed' : 'ran' });
      if (firstReceive) throw new Error('injected: the first receive of every job fails after it ran');
      return result;
    };
    source = new SqsEventSource({
      client: queues.client,
      queueUrl: queues.jobsUrl,
      functionName: 'fanout',
      batchSize: 1,
      maximumBatchingWindowSeconds: 0,
      maximumConcurrency: 5,
      reportBatchItemFailures: true,
      waitTimeSeconds: 1,
      invoke: async (event) => ({ result: await failingWorker(event, lambdaContext('fanout')) }),
    }).onBatch((batch) => batches.push(batch));
    await source.start();

    ({ clients, failures: connectFailures } = await CountingClient.connectMany(
      `${stack.websocketUrl}/?room=${ROOM}&name=Retry`,
      CLIENTS,
      50,
    ));
    for (const client of clients) ids.set(client, await client.connectionId());
  }, 120_000);

  afterAll(async () => {
    await recordFigures('sharded-fanout-redelivery', {
      clients: CLIENTS,
      connected: clients.length,
      shardSize: SHARD_SIZE,
      visibilityTimeoutSeconds: VISIBILITY_SECONDS,
      ...figures,
      receivesByCount: tally(receipts, (r) => String(r.receiveCount)),
      receivesByOutcome: tally(receipts, (r) => r.outcome),
      batchesFailed: batches.filter((batch) => batch.failed > 0).length,
    });
    await source?.stop();
    await stack?.stop();
    for (const client of clients) client.terminate();
    queues?.close();
    jest.restoreAllMocks();
    for (const name of Object.keys(process.env)) if (!(name in savedEnv)) Reflect.deleteProperty(process.env, name);
    Object.assign(process.env, savedEnv);
  });

  it('connects every client', () => {
    expect({ connected: clients.length, connectFailures, named: [...ids.values()].every(Boolean) }).toEqual({
      connected: CLIENTS,
      connectFailures: [],
      named: true,
    });
  });

  it('delivers every message to every client once when every shard job fails after running: the copy of a completed job does nothing', async () => {
    const acks = [
      await sender().post('first, through failing shard jobs', 'retry-1'),
      await sender().post('second, through failing shard jobs', 'retry-2'),
    ];
    const messageIds = acks.flatMap((ack) => (typeof ack?.['id'] === 'string' ? [ack['id']] : []));
    const allDelivered = await until(
      () => clients.every((client) => messageIds.every((id) => client.copies.has(id))),
      60_000,
    );
    // Until the queue is empty, copies may still be on their way: count the repeats only then.
    const drained = await until(async () => (await jobs().held(jobs().jobsUrl)) === 0, 60_000);
    const delivery = deliveryTally(clients, messageIds);
    const shardJobs = receipts.filter((r) => r.messageId !== undefined && messageIds.includes(r.messageId));
    const redelivered = shardJobs.filter((r) => r.receiveCount > 1);
    Object.assign(figures, {
      redeliveryExpected: delivery.expected,
      redeliveryLost: delivery.lost,
      redeliveryDuplicates: delivery.duplicates,
      redeliveryClientsWithDuplicates: delivery.clientsWithDuplicates,
      // A job records itself complete, so its copy sends nothing (before that, page k ran 2^k times: 4 copies here).
      redeliveryMaxCopies: delivery.maxCopies,
      shardJobReceives: shardJobs.length,
      shardJobRedeliveries: redelivered.length,
    });

    expect({
      acks: acks.map((ack) => ack?.['shards']),
      allDelivered,
      drained,
      lost: delivery.lost,
      // Every shard job's first receive ran and failed, so each came back: at least one redelivery per shard.
      shardsRedelivered: [...new Set(redelivered.map((r) => `${r.messageId}#${r.shard}`))].length,
      duplicates: delivery.duplicates,
      dead: await jobs().held(jobs().deadUrl),
    }).toEqual({
      acks: [ROOM_SHARDS, ROOM_SHARDS],
      allDelivered: true,
      drained: true,
      lost: 0,
      shardsRedelivered: ROOM_SHARDS * messageIds.length,
      duplicates: 0,
      dead: 0,
    });
  }, 150_000);

  it('moves a shard job that always fails to the dead-letter queue after its receives, and delivers the other shards', async () => {
    const ack = await sender().post(POISON_TEXT, 'poison-1');
    const messageId = String(ack?.['id']);
    const inPoisonShard = (client: CountingClient): boolean =>
      shardOf(ids.get(client) ?? '', ROOM_SHARDS) === POISON_SHARD;
    const dead = await until(async () => (await jobs().held(jobs().deadUrl)) === 1, 60_000);
    const othersDelivered = await until(
      () => clients.every((client) => inPoisonShard(client) || client.copies.has(messageId)),
      30_000,
    );
    const drained = await until(async () => (await jobs().held(jobs().jobsUrl)) === 0, 60_000);
    const [deadJob] = await jobs().dead();
    const missed = clients.filter((client) => !client.copies.has(messageId));
    const poisonReceives = receipts.filter((r) => r.outcome === 'poison').map((r) => r.receiveCount);
    Object.assign(figures, {
      poisonShardMembers: clients.filter(inPoisonShard).length,
      poisonMissed: missed.length,
      poisonReceives: poisonReceives.length,
      deadLetters: dead ? 1 : 0,
    });

    expect({
      dead,
      othersDelivered,
      drained,
      deadJob: deadJob?.Body === undefined ? undefined : jobOf(deadJob.Body),
      deadJobReceives: Number(deadJob?.Attributes?.ApproximateReceiveCount) >= MAX_RECEIVES,
      poisonReceives,
      // Only the members of the poison shard miss the message: every other shard job ran (after failing once).
      missedAreThePoisonShard: missed.length > 0 && missed.every(inPoisonShard),
      missed: missed.length,
    }).toEqual({
      dead: true,
      othersDelivered: true,
      drained: true,
      deadJob: { kind: 'shard', messageId, shard: POISON_SHARD, page: 'first' },
      // Its five receives by the worker.
      deadJobReceives: true,
      poisonReceives: Array.from({ length: MAX_RECEIVES }, (_, i) => i + 1),
      missedAreThePoisonShard: true,
      missed: clients.filter(inPoisonShard).length,
    });
  }, 150_000);
});
