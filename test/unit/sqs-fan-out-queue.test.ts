import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { batchesOf, FanOutQueueError, SqsFanOutQueue } from '../../src/adapters/sqs-fan-out-queue.ts';
import type { FanOutJob } from '../../src/domain/fan-out-queue.ts';

const sqs = mockClient(SQSClient);
const client = new SQSClient({ region: 'eu-west-1' });
const queueUrls = { shard: 'https://sqs.example/fanout', presence: 'https://sqs.example/presence' };
const queue = new SqsFanOutQueue(client, { queueUrls });
afterAll(() => client.destroy());

const shardJob = (shard: number): FanOutJob => ({
  kind: 'shard',
  fanOutId: 'msg-1',
  room: 'hall',
  shard,
  page: 0,
  frame: { type: 'pong', connectionId: 'x' },
});

/** The shards of the jobs each SendMessageBatch carried, request by request. */
function sentShards(): number[][] {
  return sqs.commandCalls(SendMessageBatchCommand).map((call) =>
    (call.args[0].input.Entries ?? []).map((entry: SendMessageBatchRequestEntry) => {
      const job = JSON.parse(entry.MessageBody ?? '{}') as { shard: number };
      return job.shard;
    }),
  );
}

describe('SqsFanOutQueue.enqueueAll', () => {
  beforeEach(() => {
    sqs.reset();
  });

  it('sends 8 jobs in one SendMessageBatch', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });

    await queue.enqueueAll(Array.from({ length: 8 }, (_, shard) => shardJob(shard)));

    expect(sentShards()).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
  });

  it('sends the jobs of each kind to the queue of that kind, in their order', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const presence: FanOutJob = { kind: 'presence', room: 'hall', jobId: 'p-1' };

    await queue.enqueueAll([shardJob(0), presence, shardJob(1)]);

    expect(
      sqs.commandCalls(SendMessageBatchCommand).map((call) => ({
        queue: call.args[0].input.QueueUrl,
        kinds: (call.args[0].input.Entries ?? []).map(
          (entry) => (JSON.parse(entry.MessageBody ?? '{}') as FanOutJob).kind,
        ),
      })),
    ).toEqual([
      { queue: queueUrls.shard, kinds: ['shard', 'shard'] },
      { queue: queueUrls.presence, kinds: ['presence'] },
    ]);
  });

  it('sends again only the jobs SQS failed, until it takes them', async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolvesOnce({ Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false }] })
      .resolves({ Failed: [] });

    await queue.enqueueAll([shardJob(0), shardJob(1), shardJob(2)]);

    expect(sentShards()).toEqual([[0, 1, 2], [1]]);
  });

  it('throws, naming the failure, when SQS still fails a job on its third attempt', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }] });

    await expect(queue.enqueueAll([shardJob(0)])).rejects.toThrow(
      new FanOutQueueError('SQS did not take 1 of 1 jobs: InternalError'),
    );
    expect(sentShards()).toEqual([[0], [0], [0]]);
  });

  it("throws at once for a job SQS refuses as the sender's fault, which a retry would not change", async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolves({ Failed: [{ Id: '0', Code: 'InvalidParameterValue', SenderFault: true }] });

    await expect(queue.enqueueAll([shardJob(0)])).rejects.toBeInstanceOf(FanOutQueueError);
    expect(sentShards()).toEqual([[0]]);
  });
});

describe('SqsFanOutQueue.enqueue', () => {
  beforeEach(() => {
    sqs.reset();
  });

  it('sends a presence flush to the presence queue and a shard job to the shard queue', async () => {
    sqs.on(SendMessageCommand).resolves({});

    await queue.enqueue({ kind: 'presence', room: 'hall', jobId: 'p-1' }, 1_000);
    await queue.enqueue(shardJob(3));

    expect(sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input.QueueUrl)).toEqual([
      queueUrls.presence,
      queueUrls.shard,
    ]);
  });
});

describe('batchesOf', () => {
  it('puts at most 10 bodies in a batch', () => {
    const bodies = Array.from({ length: 23 }, (_, i) => String(i));
    expect(batchesOf(bodies).map((batch) => batch.length)).toEqual([10, 10, 3]);
  });

  it('starts a new batch before one would pass 256 KiB, and sends a larger body alone', () => {
    const big = 'x'.repeat(150_000);
    const huge = 'y'.repeat(300_000);
    expect(batchesOf([big, big, 'a', huge, 'b']).map((batch) => batch.map((body) => body.length))).toEqual([
      [150_000],
      [150_000, 1],
      [300_000],
      [1],
    ]);
  });
});
