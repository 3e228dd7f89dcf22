import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { localSqsClient } from '../../scripts/local-sqs.ts';
import { LOCAL_STAGE } from '../../scripts/local-stack.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { waitUntil } from '../support/wait.ts';

type QueueName = 'fanout' | 'presence';

/** A job of the kind each queue carries: a shard job on the fan-out queue, a presence flush on the presence queue. */
const jobFor: Record<QueueName, () => object> = {
  fanout: () => ({
    kind: 'shard',
    fanOutId: `e2e-${Date.now()}`,
    room: 'lobby',
    shard: 0,
    page: 0,
    frame: { type: 'pong', connectionId: 'e2e' },
  }),
  presence: () => ({ kind: 'presence', room: 'lobby', claimedAt: new Date().toISOString() }),
};

/**
 * The fan-out worker's queues of the local stack, shard jobs and presence flushes, each through the real worker: a
 * visibility timeout of 1 s (instead of 180) so that a failed record comes back within seconds.
 */
describe("the fan-out worker's queues in the local stack", () => {
  let stack: TestStack | undefined;
  let sqs: SQSClient | undefined;
  const urls: Record<QueueName, Record<'jobs' | 'dead', string>> = {
    fanout: { jobs: '', dead: '' },
    presence: { jobs: '', dead: '' },
  };

  beforeAll(async () => {
    stack = await startTestStack({}, { fanOutVisibilityTimeout: '1' });
    const client = localSqsClient(stack.sqsEndpoint);
    sqs = client;
    const urlOf = async (name: string) =>
      (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? '';
    for (const queue of ['fanout', 'presence'] as const) {
      urls[queue].jobs = await urlOf(`ws-chat-${LOCAL_STAGE}-${queue}`);
      urls[queue].dead = await urlOf(`ws-chat-${LOCAL_STAGE}-${queue}-dlq`);
    }
  }, 90_000);

  afterAll(async () => {
    sqs?.destroy();
    await stack?.stop();
  });

  function client(): SQSClient {
    if (sqs === undefined) throw new Error('the local stack did not start');
    return sqs;
  }

  /** Messages in a queue, visible or in flight. */
  async function held(url: string): Promise<number> {
    const { Attributes } = await client().send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible);
  }

  it.each<QueueName>(['fanout', 'presence'])(
    'hands a job sent to the %s queue to the worker, which completes it',
    async (queue) => {
      const { jobs, dead } = urls[queue];
      const job = jobFor[queue]();

      const sentAt = Date.now();
      await client().send(new SendMessageCommand({ QueueUrl: jobs, MessageBody: JSON.stringify(job) }));
      // Only the event source deletes a message, and only once the worker has reported it done.
      await waitUntil('the worker to complete the job', async () => (await held(jobs)) === 0, 10_000);
      const completedWithinMs = Date.now() - sentAt;

      expect({ completedWithinMs: completedWithinMs < 10_000, dead: await held(dead) }).toEqual({
        completedWithinMs: true,
        dead: 0,
      });
    },
  );

  it.each<QueueName>(['fanout', 'presence'])(
    "delivers a record the worker reports failed again, until it lands in the %s queue's dead-letter queue",
    async (queue) => {
      const { jobs, dead } = urls[queue];
      await client().send(new SendMessageCommand({ QueueUrl: jobs, MessageBody: 'not a fan-out job' }));

      await waitUntil('the record to reach the dead-letter queue', async () => (await held(dead)) === 1, 30_000);
      const { Messages = [] } = await client().send(
        new ReceiveMessageCommand({ QueueUrl: dead, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
      );

      expect({
        left: await held(jobs),
        dead: Messages.map((m) => m.Body),
        // maxReceiveCount in serverless.yml is 5: five deliveries to the worker, then the receive here.
        deliveredFiveTimes: Number(Messages[0]?.Attributes?.ApproximateReceiveCount) >= 5,
      }).toEqual({ left: 0, dead: ['not a fan-out job'], deliveredFiveTimes: true });
    },
  );
});
