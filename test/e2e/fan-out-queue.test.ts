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

/**
 * The fan-out queue of the local stack, through the real worker: a visibility timeout of 1 s (instead of 180) so
 * that a failed record comes back within seconds.
 */
describe('the fan-out queue in the local stack', () => {
  let stack: TestStack | undefined;
  let sqs: SQSClient | undefined;
  const urls: Record<'jobs' | 'dead', string> = { jobs: '', dead: '' };

  beforeAll(async () => {
    stack = await startTestStack({}, { fanOutVisibilityTimeout: '1' });
    const client = localSqsClient(stack.sqsEndpoint);
    sqs = client;
    const urlOf = async (name: string) =>
      (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? '';
    urls.jobs = await urlOf(`ws-chat-${LOCAL_STAGE}-fanout`);
    urls.dead = await urlOf(`ws-chat-${LOCAL_STAGE}-fanout-dlq`);
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

  it('hands a job sent to the queue to the worker, which completes it', async () => {
    const job = { kind: 'presence', room: 'lobby', claimedAt: new Date().toISOString() };

    const sentAt = Date.now();
    await client().send(new SendMessageCommand({ QueueUrl: urls.jobs, MessageBody: JSON.stringify(job) }));
    // Only the event source deletes a message, and only once the worker has reported it done.
    await waitUntil('the worker to complete the job', async () => (await held(urls.jobs)) === 0, 10_000);
    const completedWithinMs = Date.now() - sentAt;

    expect({ completedWithinMs: completedWithinMs < 10_000, dead: await held(urls.dead) }).toEqual({
      completedWithinMs: true,
      dead: 0,
    });
  });

  it('delivers a record the worker reports failed again, until it lands in the dead-letter queue', async () => {
    await client().send(new SendMessageCommand({ QueueUrl: urls.jobs, MessageBody: 'not a fan-out job' }));

    await waitUntil('the record to reach the dead-letter queue', async () => (await held(urls.dead)) === 1, 30_000);
    const { Messages = [] } = await client().send(
      new ReceiveMessageCommand({ QueueUrl: urls.dead, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
    );

    expect({
      left: await held(urls.jobs),
      dead: Messages.map((m) => m.Body),
      // maxReceiveCount in serverless.yml is 5: five deliveries to the worker, then the receive here.
      deliveredFiveTimes: Number(Messages[0]?.Attributes?.ApproximateReceiveCount) >= 5,
    }).toEqual({ left: 0, dead: ['not a fan-out job'], deliveredFiveTimes: true });
  });
});
