import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CountingClient, deliveryTally } from '../support/counting-client.ts';
import { FanOutQueues } from '../support/fan-out-queues.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { recordFigures, tally } from '../support/reliability-figures.ts';
import { emulatorPid, peakRssMb } from '../support/stack-table.ts';

const CLIENTS = 2_000;
const MESSAGES = 3;
const SHARD_SIZE = 100;
/** ROOM_SHARDS's default, which the stack keeps: one shard job per shard of the room's index. */
const ROOM_SHARDS = 8;
/** Handshakes at a time: each runs $connect in the emulator, and announces the join to the room. */
const CONNECTS_IN_FLIGHT = 50;
const DELIVERY_TIMEOUT_MS = 120_000;
const ROOM = 'arena';

/**
 * A room of 2,000 real WebSocket clients through the local stack with FANOUT_SHARD_SIZE=100: every message is
 * fanned out by shard jobs on the local fan-out queue, run by the stack's own event source and fanout worker.
 */
describe(`a room of ${CLIENTS} clients fanned out by shards of ${SHARD_SIZE}`, () => {
  let stack: TestStack | undefined;
  let queues: FanOutQueues | undefined;
  let clients: CountingClient[] = [];
  let connectFailures: string[] = [];
  const acks: Array<Readonly<Record<string, unknown>> | undefined> = [];
  const startedAt = Date.now();
  let connectSeconds = 0;
  let deliverySeconds: number | undefined;
  let drainedAfterSeconds: number | undefined;
  let peakRss: number | undefined;

  const messageIds = (): string[] => acks.flatMap((ack) => (typeof ack?.['id'] === 'string' ? [ack['id']] : []));
  const everyoneHasAll = (): boolean => {
    const ids = messageIds();
    return clients.every((client) => ids.every((id) => client.copies.has(id)));
  };

  /** Polls until `done` holds or `timeoutMs` passes; returns the seconds it took, or undefined if it never held. */
  async function until(done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number | undefined> {
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      if (await done()) return (Date.now() - start) / 1000;
      await sleep(250);
    }
    return undefined;
  }

  beforeAll(async () => {
    stack = await startTestStack({ FANOUT_SHARD_SIZE: String(SHARD_SIZE) });
    const jobs = await FanOutQueues.of(stack);
    queues = jobs;

    const connectStart = Date.now();
    ({ clients, failures: connectFailures } = await CountingClient.connectMany(
      `${stack.websocketUrl}/?room=${ROOM}&name=Fan`,
      CLIENTS,
      CONNECTS_IN_FLIGHT,
    ));
    connectSeconds = (Date.now() - connectStart) / 1000;

    const [sender] = clients;
    const sendStart = Date.now();
    for (let m = 0; m < MESSAGES && sender !== undefined; m += 1)
      acks.push(await sender.post(`to the whole arena ${m}`, `arena-${m}`));
    const delivered = await until(everyoneHasAll, DELIVERY_TIMEOUT_MS);
    deliverySeconds = delivered === undefined ? undefined : (Date.now() - sendStart) / 1000;
    // Every job done (delayed presence flushes aside): no copy still on its way, so the duplicates counted are all.
    drainedAfterSeconds = await until(async () => (await jobs.held(jobs.jobsUrl)) === 0, 60_000);
  }, 300_000);

  afterAll(async () => {
    peakRss = stack === undefined ? undefined : peakRssMb(emulatorPid(stack.websocketUrl));
    const delivery = deliveryTally(clients, messageIds());
    await recordFigures('sharded-fanout', {
      clients: CLIENTS,
      connected: clients.length,
      connectFailures: tally(connectFailures, (reason) => reason.slice(0, 80)),
      connectSeconds: Math.round(connectSeconds * 10) / 10,
      messages: MESSAGES,
      shardSize: SHARD_SIZE,
      shardsPerMessage: tally(acks, (ack) => String(ack?.['shards'] ?? 'none')),
      expected: delivery.expected,
      received: delivery.received,
      lost: delivery.lost,
      duplicates: delivery.duplicates,
      deliverySeconds: deliverySeconds === undefined ? 'never' : Math.round(deliverySeconds * 10) / 10,
      drainedAfterSeconds: drainedAfterSeconds === undefined ? 'never' : Math.round(drainedAfterSeconds * 10) / 10,
      presenceFramesPerClient: Math.round(clients.reduce((sum, c) => sum + c.presenceFrames, 0) / CLIENTS),
      totalSeconds: Math.round((Date.now() - startedAt) / 100) / 10,
      emulatorPeakRssMb: peakRss ?? 'n/a',
    });
    // The stack first: 2,000 closes would each run $disconnect and announce a leave to the rest.
    await stack?.stop();
    for (const client of clients) client.terminate();
    queues?.close();
  });

  it('connects every client', () => {
    expect({ connected: clients.length, connectFailures }).toEqual({ connected: CLIENTS, connectFailures: [] });
  });

  it('acks each message with the shard jobs that took its fan-out over, before anything was delivered', () => {
    expect(acks.map((ack) => ({ shards: ack?.['shards'], recipients: ack?.['recipients'] }))).toEqual(
      Array.from({ length: MESSAGES }, () => ({ shards: ROOM_SHARDS, recipients: 0 })),
    );
  });

  it('delivers every message to every client, none lost', () => {
    const { expected, lost } = deliveryTally(clients, messageIds());

    expect({ expected, lost, deliveredInTime: deliverySeconds !== undefined }).toEqual({
      expected: CLIENTS * MESSAGES,
      lost: 0,
      deliveredInTime: true,
    });
  });

  it('completes every shard job, none left in the queue or dead', async () => {
    const jobs = queues;
    if (jobs === undefined) throw new Error('the local stack did not start');

    expect({ drained: drainedAfterSeconds !== undefined, dead: await jobs.held(jobs.deadUrl) }).toEqual({
      drained: true,
      dead: 0,
    });
  });
});
