import { describe, expect, it, jest } from '@jest/globals';
import type { BroadcastReport } from '../../../src/domain/chat-service.ts';
import type { FanOutJob } from '../../../src/domain/fan-out-queue.ts';
import { createFanOutHandler } from '../../../src/handlers/functions/fanout.ts';
import { harness } from '../../support/handler-harness.ts';
import { lambdaContext } from '../../support/lambda-events.ts';
import { sqsEvent } from '../../support/sqs-events.ts';

const job = (room: string): FanOutJob => ({ kind: 'presence', room, jobId: `job-${room}` });
const body = (room: string): string => JSON.stringify(job(room));

/** The worker over the harness's dependencies, with the service's flushPresence replaced by `flush`. */
async function worker(flush: (job: FanOutJob) => Promise<BroadcastReport | undefined> = async () => undefined) {
  const h = await harness();
  const flushed: FanOutJob[] = [];
  jest.spyOn(h.deps().service, 'flushPresence').mockImplementation(async (received) => {
    flushed.push(received);
    return flush(received);
  });
  const handler = createFanOutHandler(h.deps);
  return {
    h,
    flushed,
    run: (bodies: string[], remainingMs = 29_000) =>
      handler(sqsEvent(bodies), { ...lambdaContext('fanout'), getRemainingTimeInMillis: () => remainingMs }),
  };
}

describe('fan-out worker', () => {
  it("runs each record's job in order and reports no failure", async () => {
    const { flushed, run } = await worker();

    const response = await run([body('a'), body('b')]);

    expect({ response, flushed }).toEqual({ response: { batchItemFailures: [] }, flushed: [job('a'), job('b')] });
  });

  it('hands over a claimed flush with its job id and claim, and one queued before claims had an id as it came', async () => {
    const { flushed, run } = await worker();
    const claimed: FanOutJob = { kind: 'presence', room: 'a', jobId: 'job-a', claimedAt: '2030-01-01T00:00:00.000Z' };
    const older: FanOutJob = { kind: 'presence', room: 'b', claimedAt: '2030-01-01T00:00:00.000Z' };

    await run([JSON.stringify(claimed), JSON.stringify(older)]);

    expect(flushed).toEqual([claimed, older]);
  });

  it('reports only the record whose job threw, and still runs the others', async () => {
    const { flushed, run } = await worker(async (received) => {
      if (received.room === 'b') throw new Error('throttled');
      return undefined;
    });

    const response = await run([body('a'), body('b'), body('c')]);

    expect({ response, rooms: flushed.map((j) => j.room) }).toEqual({
      response: { batchItemFailures: [{ itemIdentifier: 'm-2' }] },
      rooms: ['a', 'b', 'c'],
    });
  });

  it('reports a record that is not a fan-out job, so that it ends in the dead-letter queue, and logs why', async () => {
    const { h, flushed, run } = await worker();

    const response = await run(['not json', JSON.stringify({ kind: 'shard', room: 'a' }), body('c')]);

    expect({
      response,
      flushed: flushed.length,
      logged: h.logger.find('fan-out job unreadable').map((line) => line.fields?.['messageId']),
    }).toEqual({
      response: { batchItemFailures: [{ itemIdentifier: 'm-1' }, { itemIdentifier: 'm-2' }] },
      flushed: 1,
      logged: ['m-1', 'm-2'],
    });
  });

  it('runs a shard job queued before pages were numbered as the first page of its chain', async () => {
    const { h, run } = await worker();
    const delivered: FanOutJob[] = [];
    jest.spyOn(h.deps().service, 'deliverShard').mockImplementation(async (received) => {
      delivered.push(received);
      return undefined;
    });
    const frame = { type: 'pong', connectionId: 'x' } as const;

    await run([JSON.stringify({ kind: 'shard', fanOutId: 'f-1', room: 'a', shard: 2, after: 'c', frame })]);

    expect(delivered).toEqual([{ kind: 'shard', fanOutId: 'f-1', room: 'a', shard: 2, page: 0, after: 'c', frame }]);
  });

  it('hands back the records it has no time left to start', async () => {
    const { flushed, run } = await worker();

    const response = await run([body('a'), body('b')], 1_000);

    expect({ response, flushed }).toEqual({
      response: { batchItemFailures: [{ itemIdentifier: 'm-1' }, { itemIdentifier: 'm-2' }] },
      flushed: [],
    });
  });

  it("counts and logs each job's fan-out, tagged with its batch's size", async () => {
    const report: BroadcastReport = {
      room: 'a',
      recipients: 3,
      delivered: 2,
      gone: 1,
      removed: 1,
      failed: 0,
      failures: [],
      shards: 0,
    };
    const { h, run } = await worker(async () => report);

    await run([body('a')]);

    expect({
      deliveries: h.metrics.total('Deliveries'),
      logged: h.logger.find('fan-out')[0]?.fields,
    }).toEqual({
      deliveries: 2,
      logged: expect.objectContaining({ action: 'presence', messageId: 'm-1', records: 1, recipients: 3 }),
    });
  });
});
