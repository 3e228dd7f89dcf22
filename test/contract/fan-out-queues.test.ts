import { afterAll, beforeAll, describe } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { InMemoryFanOutQueue } from '../../src/adapters/in-memory-fan-out-queue.ts';
import { SqsFanOutQueue } from '../../src/adapters/sqs-fan-out-queue.ts';
import type { FanOutJob } from '../../src/domain/fan-out-queue.ts';
import { type LocalSqs, localSqsClient, startLocalSqs } from '../../scripts/local-sqs.ts';
import { fanOutQueueContract } from './fan-out-queue.contract.ts';

fanOutQueueContract('InMemoryFanOutQueue', async () => {
  let now = new Date('2030-01-01T00:00:00.000Z');
  const queue = new InMemoryFanOutQueue(() => now);
  return {
    queue,
    receive: async (_waitMs, kind) => queue.takeDue(undefined, kind),
    elapse: async (ms) => {
      now = new Date(now.getTime() + ms);
    },
  };
});

describe('SqsFanOutQueue on fauxqs', () => {
  let sqs: LocalSqs | undefined;
  let client: SQSClient | undefined;
  let queues = 0;

  beforeAll(async () => {
    sqs = await startLocalSqs(0);
    client = localSqsClient(sqs.endpoint);
  });

  afterAll(async () => {
    client?.destroy();
    await sqs?.stop();
  });

  fanOutQueueContract('SqsFanOutQueue', async () => {
    if (client === undefined) throw new Error('fauxqs did not start');
    const sqsClient = client;
    queues += 1;
    const create = async (name: string): Promise<string> => {
      const { QueueUrl } = await sqsClient.send(new CreateQueueCommand({ QueueName: `${name}-contract-${queues}` }));
      if (QueueUrl === undefined) throw new Error('fauxqs created no queue');
      return QueueUrl;
    };
    const queueUrls = { shard: await create('fanout'), presence: await create('presence') };
    const receiveFrom = async (QueueUrl: string, waitMs: number): Promise<FanOutJob[]> => {
      const { Messages = [] } = await sqsClient.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: Math.floor(waitMs / 1000) }),
      );
      if (Messages.length > 0)
        await sqsClient.send(
          new DeleteMessageBatchCommand({
            QueueUrl,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      return Messages.map((m) => JSON.parse(m.Body ?? 'null') as FanOutJob);
    };
    return {
      queue: new SqsFanOutQueue(sqsClient, { queueUrls }),
      async receive(waitMs = 0, kind) {
        if (kind !== undefined) return receiveFrom(queueUrls[kind], waitMs);
        // Every kind: the queues side by side, each waiting as long.
        return (
          await Promise.all([receiveFrom(queueUrls.presence, waitMs), receiveFrom(queueUrls.shard, waitMs)])
        ).flat();
      },
      elapse: (ms) => sleep(ms),
    };
  });
});
