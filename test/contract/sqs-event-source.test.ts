import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { createQueues, type LocalSqs, localSqsClient, startLocalSqs } from '../../scripts/local-sqs.ts';
import { type InvocationOutcome, SqsEventSource, type SqsEventSourceOptions } from '../../scripts/sqs-event-source.ts';
import { waitUntil } from '../support/wait.ts';

/** The offline SQS event source against fauxqs, with a stub function in place of a handler. */
describe('the local SQS event source', () => {
  let sqs: LocalSqs | undefined;
  let client: SQSClient | undefined;
  let queues = 0;
  const sources: SqsEventSource[] = [];

  beforeAll(async () => {
    sqs = await startLocalSqs(0);
    client = localSqsClient(sqs.endpoint);
  });

  afterEach(async () => {
    await Promise.all(sources.splice(0).map((source) => source.stop()));
  });

  afterAll(async () => {
    client?.destroy();
    await sqs?.stop();
  });

  /** A queue with a visibility timeout of 1 s (by default) and a dead-letter queue after `maxReceiveCount` receives. */
  async function queuePair(maxReceiveCount = 3, visibilityTimeout = 1) {
    if (client === undefined) throw new Error('fauxqs did not start');
    queues += 1;
    const made = await createQueues(
      client,
      [
        {
          logicalId: 'Jobs',
          properties: {
            QueueName: `jobs-${queues}`,
            VisibilityTimeout: visibilityTimeout,
            RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dead', 'Arn'] }, maxReceiveCount },
          },
        },
        { logicalId: 'Dead', properties: { QueueName: `jobs-${queues}-dlq` } },
      ],
      (id) => id,
    );
    const jobs = made.get('Jobs');
    const dead = made.get('Dead');
    if (jobs === undefined || dead === undefined) throw new Error('queues not made');
    const sqsClient = client;
    return {
      jobs,
      dead,
      send: (body: string) => sqsClient.send(new SendMessageCommand({ QueueUrl: jobs.url, MessageBody: body })),
      /** Messages in a queue, visible or in flight. */
      count: async (url: string) => {
        const { Attributes } = await sqsClient.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
          }),
        );
        return (
          Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
        );
      },
    };
  }

  /** Starts a source on `queueUrl` whose function records every batch and answers with `answer`. */
  async function source(
    queueUrl: string,
    answer: (event: SQSEvent) => Promise<InvocationOutcome>,
    options: Partial<SqsEventSourceOptions> = {},
  ) {
    if (client === undefined) throw new Error('fauxqs did not start');
    const batches: SQSRecord[][] = [];
    const started = new SqsEventSource({
      client,
      queueUrl,
      functionName: 'stub',
      batchSize: 10,
      maximumBatchingWindowSeconds: 0,
      maximumConcurrency: 1,
      reportBatchItemFailures: true,
      waitTimeSeconds: 1,
      invoke: async (event) => {
        batches.push(event.Records);
        return answer(event);
      },
      ...options,
    });
    sources.push(started);
    await started.start();
    return batches;
  }

  it('invokes the function with a record shaped as Lambda sends it, and deletes it once done', async () => {
    const q = await queuePair();
    const batches = await source(q.jobs.url, async () => ({ result: { batchItemFailures: [] } }));

    await q.send('{"kind":"presence"}');
    await waitUntil(
      'the record to be handled and deleted',
      async () => batches.length === 1 && (await q.count(q.jobs.url)) === 0,
    );

    expect(batches[0]).toEqual([
      expect.objectContaining({
        messageId: expect.any(String),
        receiptHandle: expect.any(String),
        body: '{"kind":"presence"}',
        attributes: expect.objectContaining({ ApproximateReceiveCount: '1', SentTimestamp: expect.any(String) }),
        eventSource: 'aws:sqs',
        eventSourceARN: q.jobs.arn,
        awsRegion: 'us-east-1',
      }),
    ]);
  });

  it('delivers again only the records the response names in batchItemFailures', async () => {
    const q = await queuePair();
    const batches = await source(q.jobs.url, async (event) => ({
      result: {
        batchItemFailures: event.Records.filter(
          (r) => r.body === 'fails' && r.attributes.ApproximateReceiveCount === '1',
        ).map((r) => ({ itemIdentifier: r.messageId })),
      },
    }));

    await q.send('succeeds');
    await q.send('fails');
    await waitUntil('the failed record to come back once', async () => batches.flat().length >= 3, 10_000);
    await waitUntil('the queue to be empty', async () => (await q.count(q.jobs.url)) === 0);

    expect(
      batches
        .flat()
        .map((r) => `${r.body} #${r.attributes.ApproximateReceiveCount}`)
        .sort(),
    ).toEqual(['fails #1', 'fails #2', 'succeeds #1']);
  });

  it('moves a record that fails every time to the dead-letter queue after maxReceiveCount receives', async () => {
    const q = await queuePair(2);
    const batches = await source(q.jobs.url, async (event) => ({
      result: { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) },
    }));

    await q.send('poison');
    await waitUntil(
      'the poison record to reach the dead-letter queue',
      async () => (await q.count(q.dead.url)) === 1,
      15_000,
    );

    expect({ receives: batches.flat().length, left: await q.count(q.jobs.url) }).toEqual({ receives: 2, left: 0 });
  });

  it('fails the whole batch when the function throws, and keeps polling', async () => {
    const q = await queuePair();
    let calls = 0;
    const batches = await source(q.jobs.url, async () => {
      calls += 1;
      return calls === 1 ? { error: 'Unhandled: boom' } : { result: null };
    });

    await q.send('first');
    await waitUntil(
      'the record to come back after the throw and be deleted',
      async () => batches.length >= 2 && (await q.count(q.jobs.url)) === 0,
      10_000,
    );

    expect(batches.map((batch) => batch.map((r) => `${r.body} #${r.attributes.ApproximateReceiveCount}`))).toEqual([
      ['first #1'],
      ['first #2'],
    ]);
  });

  it('fails the whole batch when batchItemFailures names a record that is not in it', async () => {
    const q = await queuePair();
    const batches = await source(q.jobs.url, async (event) =>
      event.Records[0]?.attributes.ApproximateReceiveCount === '1'
        ? { result: { batchItemFailures: [{ itemIdentifier: 'no-such-record' }] } }
        : { result: {} },
    );

    await q.send('only');
    await waitUntil(
      'the record to come back and be deleted',
      async () => batches.length >= 2 && (await q.count(q.jobs.url)) === 0,
      10_000,
    );

    expect(batches.length).toBe(2);
  });

  it('ignores batchItemFailures without ReportBatchItemFailures, as Lambda does', async () => {
    const q = await queuePair();
    const batches = await source(
      q.jobs.url,
      async (event) => ({ result: { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) } }),
      { reportBatchItemFailures: false },
    );

    await q.send('done anyway');
    await waitUntil('the record to be deleted', async () => batches.length === 1 && (await q.count(q.jobs.url)) === 0);

    expect(batches.flat().map((r) => r.body)).toEqual(['done anyway']);
  });

  it('gathers at most batchSize records into one invocation within the batching window', async () => {
    // Longer than the window, or records gathered at its start would come back before it closes.
    const q = await queuePair(3, 30);
    for (const body of ['1', '2', '3', '4', '5']) await q.send(body);
    const batches = await source(q.jobs.url, async () => ({ result: undefined }), {
      batchSize: 3,
      maximumBatchingWindowSeconds: 1,
    });

    await waitUntil('every record to be handled', async () => batches.flat().length === 5);

    expect(batches.map((batch) => batch.length)).toEqual([3, 2]);
  });

  it('runs at most maximumConcurrency invocations at once', async () => {
    const q = await queuePair();
    let inFlight = 0;
    let peak = 0;
    const batches = await source(
      q.jobs.url,
      async () => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 200));
        inFlight -= 1;
        return { result: undefined };
      },
      { batchSize: 1, maximumConcurrency: 2 },
    );

    for (const body of ['1', '2', '3', '4', '5', '6']) await q.send(body);
    await waitUntil('every record to be handled', async () => batches.flat().length === 6 && inFlight === 0);

    expect(peak).toBe(2);
  });
});
