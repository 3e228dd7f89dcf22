import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { FanOutQueueError, messageBodyOf, SqsFanOutQueue } from '../../src/adapters/sqs-fan-out-queue.ts';
import type { FanOutJob } from '../../src/domain/fan-out-queue.ts';
import { type LocalSqs, localSqsClient, startLocalSqs } from '../../scripts/local-sqs.ts';
import { type SqsFault, SqsFaultProxy } from '../support/sqs-fault-proxy.ts';

/** Shares that make a roll of 0.1 a throttle, 0.3 a 500, 0.5 a drop before, 0.7 a drop after, 0.9 nothing. */
const SHARES = { throttle: 0.2, serverError: 0.2, dropBefore: 0.2, dropAfter: 0.2, refusedEntry: 0.5 };
const ROLL: Record<SqsFault | 'forward', number> = {
  throttle: 0.1,
  serverError: 0.3,
  dropBefore: 0.5,
  dropAfter: 0.7,
  refusedEntry: 0.1,
  forward: 0.9,
};

const job = (room: string): FanOutJob => ({ kind: 'presence', room, jobId: `job-${room}` });

/**
 * The SQS fault proxy the fault-injection suite puts in front of fauxqs: what each fault does to the adapter's
 * requests as the SDK retries them, and the delays it takes off the wire.
 */
describe('SqsFaultProxy in front of fauxqs', () => {
  let sqs: LocalSqs | undefined;
  let direct: SQSClient;
  let queues = 0;

  beforeAll(async () => {
    sqs = await startLocalSqs(0);
    direct = localSqsClient(sqs.endpoint);
  });

  afterAll(async () => {
    direct?.destroy();
    await sqs?.stop();
  });

  /** A fresh queue behind a proxy whose requests roll, in turn, as `rolls` says (then nothing). */
  async function rig(rolls: number[], attempts: number) {
    if (sqs === undefined) throw new Error('fauxqs did not start');
    queues += 1;
    const { QueueUrl: queueUrl = '' } = await direct.send(new CreateQueueCommand({ QueueName: `proxy-${queues}` }));
    const proxy = await new SqsFaultProxy(sqs.endpoint, SHARES).start();
    proxy.roll = () => rolls.shift() ?? ROLL.forward;
    const client = proxy.client(attempts);
    const adapter = new SqsFanOutQueue(client, { queueUrls: { shard: queueUrl, presence: queueUrl } });
    const held = async (): Promise<string[]> => {
      const bodies: string[] = [];
      for (;;) {
        const { Messages = [] } = await direct.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        if (Messages.length === 0) return bodies.sort();
        await direct.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
        bodies.push(...Messages.map((m) => m.Body ?? ''));
      }
    };
    const close = async (): Promise<void> => {
      client.destroy();
      await proxy.stop();
    };
    return { proxy, adapter, held, close };
  }

  it('a send whose answer was lost is replayed by the SDK: the queue holds its message twice', async () => {
    const { proxy, adapter, held, close } = await rig([ROLL.dropAfter], 2);
    await adapter.enqueue(job('a'), 2_500);
    const bodies = await held();
    const delay = proxy.delayOf(messageBodyOf(job('a')));
    await close();

    expect({ bodies, delay, counts: proxy.counts }).toEqual({
      bodies: [messageBodyOf(job('a')), messageBodyOf(job('a'))],
      // DelaySeconds was taken off the request, so fauxqs held nothing back, and noted.
      delay: 3,
      counts: { forwarded: 1, throttle: 0, serverError: 0, dropBefore: 0, dropAfter: 1, refusedEntry: 0 },
    });
  });

  it('throttles, 500s and drops before the request applied are retried without a duplicate', async () => {
    const { proxy, adapter, held, close } = await rig([ROLL.throttle, ROLL.serverError, ROLL.dropBefore], 4);
    await adapter.enqueue(job('b'));
    const bodies = await held();
    await close();

    expect({ bodies, counts: proxy.counts }).toEqual({
      bodies: [messageBodyOf(job('b'))],
      counts: { forwarded: 1, throttle: 1, serverError: 1, dropBefore: 1, dropAfter: 0, refusedEntry: 0 },
    });
  });

  it('a send that fails on its last attempt throws, whether or not it applied', async () => {
    const { adapter, held, close } = await rig([ROLL.dropBefore, ROLL.dropAfter], 1);
    const refused = adapter.enqueue(job('c')).then(
      () => 'sent',
      () => 'threw',
    );
    const before = await refused;
    const lost = await adapter.enqueue(job('d')).then(
      () => 'sent',
      () => 'threw',
    );
    const bodies = await held();
    await close();

    expect({ before, lost, bodies }).toEqual({ before: 'threw', lost: 'threw', bodies: [messageBodyOf(job('d'))] });
  });

  it("a batch's refused entries are sent again by the adapter, and each job is queued once", async () => {
    // The request's roll, then one per entry: the second and third entries are refused, then sent alone.
    const { proxy, adapter, held, close } = await rig(
      [ROLL.forward, ROLL.forward, ROLL.refusedEntry, ROLL.refusedEntry],
      1,
    );
    const jobs = ['e', 'f', 'g'].map(job);
    await adapter.enqueueAll(jobs);
    const bodies = await held();
    await close();

    expect({ bodies, refused: proxy.counts.refusedEntry }).toEqual({
      bodies: jobs.map(messageBodyOf).sort(),
      refused: 2,
    });
  });

  it('a batch whose entries are refused three times over throws', async () => {
    // Each of the adapter's three attempts: the request's roll, then its one entry's.
    const { adapter, held, close } = await rig(Array(3).fill([ROLL.forward, ROLL.refusedEntry]).flat(), 1);
    const outcome = await adapter.enqueueAll([job('h')]).then(
      () => undefined,
      (error: unknown) => error,
    );
    const bodies = await held();
    await close();

    expect({ threw: outcome instanceof FanOutQueueError, bodies }).toEqual({ threw: true, bodies: [] });
  });
});
