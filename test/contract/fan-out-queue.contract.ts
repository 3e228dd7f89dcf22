import { describe, expect, it } from '@jest/globals';
import type { FanOutJob, FanOutQueue } from '../../src/domain/fan-out-queue.ts';

/** A queue under test, and how a test sees what a worker would receive from it. */
export interface FanOutQueueHarness {
  readonly queue: FanOutQueue;
  /**
   * The jobs a worker receives now, each taken off the queue; waits up to `waitMs` for the first one. With `kind`,
   * a worker of that kind's jobs only, as the worker's event source of that queue receives them.
   */
  receive(waitMs?: number, kind?: FanOutJob['kind']): Promise<FanOutJob[]>;
  /** Lets `ms` pass: the injected clock's, or real time. */
  elapse(ms: number): Promise<void>;
}

const claimed: FanOutJob = { kind: 'presence', room: 'lobby', claimedAt: '2030-01-01T00:00:00.000Z' };
const scheduled: FanOutJob = { kind: 'presence', room: 'kitchen', jobId: 'job-1' };

/** Receives until `job` arrives or `waitMs` has passed; returns everything received on the way. */
async function receiveUntil(
  harness: FanOutQueueHarness,
  job: FanOutJob,
  waitMs: number,
  kind?: FanOutJob['kind'],
): Promise<FanOutJob[]> {
  const received: FanOutJob[] = [];
  const deadline = Date.now() + waitMs;
  do {
    received.push(...(await harness.receive(Math.max(0, Math.min(1_000, deadline - Date.now())), kind)));
  } while (!received.some((r) => JSON.stringify(r) === JSON.stringify(job)) && Date.now() < deadline);
  return received;
}

/** What every FanOutQueue adapter must do; run once per adapter. */
export function fanOutQueueContract(adapter: string, create: () => Promise<FanOutQueueHarness>): void {
  describe(`FanOutQueue contract: ${adapter}`, () => {
    it('hands a job to the worker, once', async () => {
      const harness = await create();
      await harness.queue.enqueue(claimed);

      const first = await receiveUntil(harness, claimed, 5_000);
      const again = await harness.receive();

      expect({ first, again }).toEqual({ first: [claimed], again: [] });
    });

    it('keeps a delayed job back until its delay has passed', async () => {
      const harness = await create();
      await harness.queue.enqueue(scheduled, 1_500);
      await harness.queue.enqueue(claimed);

      // The job sent with no delay is the signal that the queue delivers; the delayed one must not come with it.
      const before = await receiveUntil(harness, claimed, 5_000);
      await harness.elapse(2_000);
      const after = await receiveUntil(harness, scheduled, 5_000);

      expect({ before, after }).toEqual({ before: [claimed], after: [scheduled] });
    });

    it('accepts a delay longer than the queue can keep a job back, and still keeps it back', async () => {
      const harness = await create();
      await harness.queue.enqueue(scheduled, 3_600_000);
      await harness.queue.enqueue(claimed);

      expect(await receiveUntil(harness, claimed, 5_000)).toEqual([claimed]);
    });

    it('hands over jobs queued together, each once, more than one request of them takes', async () => {
      const harness = await create();
      // 25 jobs, more than a batch holds; three of ~100 KB, more than one batch's bytes.
      const frame = (text: string) =>
        ({ type: 'message', id: 'm', seq: 1, room: 'r', from: 'a', name: 'A', text, sentAt: 'now' }) as const;
      const jobs: FanOutJob[] = Array.from({ length: 25 }, (_, shard) => ({
        kind: 'shard',
        fanOutId: 'f-1',
        room: 'r',
        shard,
        page: 0,
        frame: frame(shard < 3 ? 'x'.repeat(100_000) : 'small'),
      }));

      await harness.queue.enqueueAll(jobs);
      const received: FanOutJob[] = [];
      const deadline = Date.now() + 10_000;
      while (received.length < jobs.length && Date.now() < deadline) received.push(...(await harness.receive(1_000)));

      const shardsOf = (all: FanOutJob[]) =>
        all.map((job) => (job.kind === 'shard' ? job.shard : -1)).sort((a, b) => a - b);
      expect({ shards: shardsOf(received), again: await harness.receive() }).toEqual({
        shards: shardsOf(jobs),
        again: [],
      });
    });

    it('holds each kind of job apart, so that shard jobs queued first are not in front of a presence flush', async () => {
      const harness = await create();
      const frame = { type: 'pong', connectionId: 'x' } as const;
      const shards: FanOutJob[] = Array.from({ length: 12 }, (_, shard) => ({
        kind: 'shard',
        fanOutId: 'f-2',
        room: 'big',
        shard,
        page: 0,
        frame,
      }));
      await harness.queue.enqueueAll(shards);
      await harness.queue.enqueueAll([claimed]);

      const presence = await receiveUntil(harness, claimed, 5_000, 'presence');
      const shardsReceived: FanOutJob[] = [];
      const deadline = Date.now() + 10_000;
      while (shardsReceived.length < shards.length && Date.now() < deadline)
        shardsReceived.push(...(await harness.receive(1_000, 'shard')));

      expect({ presence, shardKinds: [...new Set(shardsReceived.map((job) => job.kind))] }).toEqual({
        presence: [claimed],
        shardKinds: ['shard'],
      });
    });

    it('gives the worker every kind of job as its JSON carries it', async () => {
      const harness = await create();
      const jobs: FanOutJob[] = [
        { kind: 'presence', room: 'straße-ß_1', claimedAt: '2030-01-01T00:00:00.123Z' },
        { kind: 'presence', room: 'r', jobId: 'ab"c\\d\u2028e\ufffe😀' },
      ];
      for (const job of jobs) await harness.queue.enqueue(job);

      const received: FanOutJob[] = [];
      const deadline = Date.now() + 5_000;
      while (received.length < jobs.length && Date.now() < deadline) received.push(...(await harness.receive(1_000)));

      expect(received.map((job) => JSON.stringify(job)).sort()).toEqual(jobs.map((job) => JSON.stringify(job)).sort());
    });
  });
}
