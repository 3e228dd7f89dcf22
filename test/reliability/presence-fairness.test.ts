import { setTimeout as sleep } from 'node:timers/promises';
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { localSqsClient } from '../../scripts/local-sqs.ts';
import { LOCAL_STAGE } from '../../scripts/local-stack.ts';
import { ChatClient } from '../support/chat-client.ts';
import { CountingClient } from '../support/counting-client.ts';
import { inPool } from '../support/pool.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { recordFigures } from '../support/reliability-figures.ts';

const WINDOW_MS = 1000;
/** Rooms that churn at once, each by one client that joins and leaves it again and again. */
const CHURN_ROOMS = 60;
const CHURN_MS = 15_000;
/** Each churning client's pause between a leave and its next join: the emulator's two cores stay loaded, not starved. */
const CHURN_PAUSE_MS = 250;
/** The unrelated room: a client joins it this often, and its observer times when it hears the join. */
const QUIET_ROOM = 'quiet';
const PROBE_EVERY_MS = 1_500;
/** A probe whose join is not heard within this long counts as never heard. */
const HEAR_TIMEOUT_MS = 30_000;
/** The big room: more members than a shard, so that each of its messages is fanned out by shard jobs. */
const BIG_ROOM = 'arena';
const BIG_ROOM_CLIENTS = 200;
const SHARD_SIZE = 10;
/** ROOM_SHARDS's default, which the stack keeps: each message of the big room queues this many shard jobs at once. */
const ROOM_SHARDS = 8;
const FLOOD_MESSAGES = 40;
const FLOOD_MAX_MS = 30_000;
/** The worker's presence event source's maximumConcurrency (serverless.yml's presenceMaxConcurrency). */
const PRESENCE_CONCURRENCY = 4;
const PRESENCE_QUEUE = `ws-chat-${LOCAL_STAGE}-presence`;
const SHARD_QUEUE = `ws-chat-${LOCAL_STAGE}-fanout`;

interface Probe {
  /** From the probe's handshake to the observer hearing its join; undefined when it never did. */
  readonly delayMs: number | undefined;
}

/** What a phase measured. */
interface Phase {
  readonly probes: readonly Probe[];
  /** The most presence jobs waiting in the presence queue at any sample. */
  readonly mostWaiting: number;
  /** How long each presence job's invocation took, from the event source's log lines. */
  readonly jobMs: readonly number[];
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
};

/**
 * The documented bound (serverless.yml's presenceMaxConcurrency): a room's presence waits for at most its window, then
 * for the presence jobs ahead of it, which the worker runs `PRESENCE_CONCURRENCY` at a time, each taking at most
 * `jobMs`. With one job waiting per room that has changes to announce (coalescing), at most `rooms` are ahead, whatever
 * the churn, and no shard job is. Locally `jobMs`, the longest presence job of the phase, is mostly the emulator's
 * one process waiting for the machine's CPU.
 */
const boundMs = (rooms: number, jobMs: number): number =>
  WINDOW_MS + (Math.ceil(rooms / PRESENCE_CONCURRENCY) + 1) * jobMs;

/**
 * Churn across many rooms, then a flood of shard jobs from a big room, through the local stack (every client from
 * 127.0.0.1, one owner, whose budget the local stack leaves off): a client joining an unrelated room must be announced
 * within the documented bound, which depends on the rooms with presence to announce and not on the churn's volume nor
 * on the shard jobs queued; and the presence queue holds at most one waiting job per such room.
 */
describe("an unrelated room's presence while other rooms churn and a big room floods the shard queue", () => {
  let stack: TestStack;
  let sqs: SQSClient;
  let presenceUrl: string;
  let shardUrl: string;
  let observer: ChatClient;
  let probes = 0;
  let churn: Phase | undefined;
  let flood: Phase | undefined;
  let floodShardJobs = 0;

  const waiting = async (url: string): Promise<number> => {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    return Number(Attributes.ApproximateNumberOfMessages ?? 0);
  };

  /** The presence queue's invocations logged from output line `from` on: each one's duration. */
  const presenceJobMs = (from: number): number[] =>
    stack.output.slice(from).flatMap((line) => {
      const match = new RegExp(`<- ${PRESENCE_QUEUE}: 1 record\\(s\\).*which took (\\d+) ms`).exec(line);
      return match?.[1] === undefined ? [] : [Number(match[1])];
    });

  /** Joins the quiet room once, timing the join from its handshake until the observer hears it; then leaves. */
  async function probe(): Promise<Probe> {
    probes += 1;
    const name = `Probe${probes}`;
    const client = await ChatClient.connect(`${stack.websocketUrl}/?room=${QUIET_ROOM}&name=${name}`, 30_000);
    const joined = Date.now();
    const heard = await observer
      .waitForChange((change) => change.event === 'join' && change.name === name, 1, HEAR_TIMEOUT_MS)
      .then(
        () => Date.now(),
        () => undefined,
      );
    await client.close();
    return { delayMs: heard === undefined ? undefined : heard - joined };
  }

  /** A probe every PROBE_EVERY_MS while `running` holds (at least 3), each on its own: a slow one delays no other. */
  async function probeWhile(running: () => boolean): Promise<Probe[]> {
    const started: Array<Promise<Probe>> = [];
    while (running() || started.length < 3) {
      started.push(probe());
      await sleep(PROBE_EVERY_MS);
    }
    return Promise.all(started);
  }

  /** Samples the presence queue's waiting jobs while `running` holds; resolves with the most seen. */
  async function mostWaitingWhile(running: () => boolean): Promise<number> {
    let most = 0;
    while (running()) {
      most = Math.max(most, await waiting(presenceUrl));
      await sleep(200);
    }
    return most;
  }

  beforeAll(async () => {
    stack = await startTestStack(
      {
        PRESENCE_WINDOW_MS: String(WINDOW_MS),
        RATE_LIMIT_FRAMES: '100000',
        RATE_LIMIT_WINDOW_SECONDS: '1',
        FANOUT_SHARD_SIZE: String(SHARD_SIZE),
        // The big room grows into its shards; the churning rooms, of one member, stay in one.
        ROOM_GROW_AT: '50',
      },
      { presenceMaxConcurrency: String(PRESENCE_CONCURRENCY) },
    );
    sqs = localSqsClient(stack.sqsEndpoint);
    const urlOf = async (name: string): Promise<string> =>
      (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? '';
    [presenceUrl, shardUrl] = await Promise.all([urlOf(PRESENCE_QUEUE), urlOf(SHARD_QUEUE)]);
    observer = await ChatClient.connect(`${stack.websocketUrl}/?room=${QUIET_ROOM}&name=Observer`, 30_000);
  });

  afterAll(async () => {
    const summary = (phase: Phase | undefined) => {
      const delays = phase?.probes.flatMap((p) => (p.delayMs === undefined ? [] : [p.delayMs])) ?? [];
      return {
        probes: phase?.probes.length ?? 0,
        neverHeard: phase?.probes.filter((p) => p.delayMs === undefined).length ?? 0,
        medianMs: median(delays),
        maxMs: Math.max(0, ...delays),
        mostWaiting: phase?.mostWaiting ?? 0,
        presenceJobs: phase?.jobMs.length ?? 0,
        medianJobMs: median(phase?.jobMs ?? []),
        maxJobMs: Math.max(0, ...(phase?.jobMs ?? [])),
      };
    };
    await recordFigures('presence-fairness', {
      churnRooms: CHURN_ROOMS,
      churnDelay: summary(churn),
      bigRoomClients: BIG_ROOM_CLIENTS,
      floodShardJobs,
      floodDelay: summary(flood),
    });
    sqs?.destroy();
    await observer?.close();
    await stack?.stop();
  });

  it(`announces a join in an unrelated room within the bound while ${CHURN_ROOMS} rooms churn`, async () => {
    const from = stack.output.length;
    const deadline = Date.now() + CHURN_MS;
    const running = (): boolean => Date.now() < deadline;
    const churners = Array.from({ length: CHURN_ROOMS }, async (_, room) => {
      while (running()) {
        const client = await ChatClient.connect(`${stack.websocketUrl}/?room=churn-${room}&name=Churn${room}`, 30_000);
        await client.close();
        await sleep(CHURN_PAUSE_MS);
      }
    });
    const [measured, mostWaiting] = await Promise.all([probeWhile(running), mostWaitingWhile(running)]);
    await Promise.all(churners);
    churn = { probes: measured, mostWaiting, jobMs: presenceJobMs(from) };

    // The churning rooms, the quiet room and the big room (empty yet) are all that can have presence to announce.
    const rooms = CHURN_ROOMS + 2;
    const bound = boundMs(rooms, Math.max(...churn.jobMs));
    expect({
      everyJoinHeard: measured.every((p) => p.delayMs !== undefined),
      withinBound: measured.every((p) => (p.delayMs ?? Number.POSITIVE_INFINITY) <= bound),
      waitingAtMostOnePerRoom: mostWaiting <= rooms,
    }).toEqual({ everyJoinHeard: true, withinBound: true, waitingAtMostOnePerRoom: true });
  });

  it(`announces a join in an unrelated room within the bound while a room of ${BIG_ROOM_CLIENTS} floods the shard jobs`, async () => {
    const { clients } = await CountingClient.connectMany(
      `${stack.websocketUrl}/?room=${BIG_ROOM}&name=Fan`,
      BIG_ROOM_CLIENTS,
      20,
    );
    try {
      const [sender] = clients;
      if (sender === undefined) throw new Error('no client joined the big room');
      const from = stack.output.length;
      let flooding = true;
      const floodStart = Date.now();
      const flooded = (async () => {
        const acks = await inPool(
          Array.from({ length: FLOOD_MESSAGES }, (_, m) => m),
          10,
          (m) => sender.post(`to the arena ${m}`, `arena-${m}`),
        );
        floodShardJobs = acks.reduce((sum, ack) => sum + Number(ack?.['shards'] ?? 0), 0);
        // Flooding until the shard queue has nothing left to run.
        while (Date.now() - floodStart < FLOOD_MAX_MS && (await waiting(shardUrl)) > 0) await sleep(200);
        flooding = false;
      })();
      const [measured, mostWaiting] = await Promise.all([
        probeWhile(() => flooding),
        mostWaitingWhile(() => flooding),
        flooded,
      ]);
      flood = { probes: measured, mostWaiting, jobMs: presenceJobMs(from) };

      // The quiet room and the big room (its joins, leaves) are all that have presence to announce.
      const rooms = 2;
      const bound = boundMs(rooms, Math.max(...flood.jobMs));
      expect({
        shardJobsQueued: floodShardJobs >= FLOOD_MESSAGES * ROOM_SHARDS,
        everyJoinHeard: measured.every((p) => p.delayMs !== undefined),
        withinBound: measured.every((p) => (p.delayMs ?? Number.POSITIVE_INFINITY) <= bound),
        waitingAtMostOnePerRoom: mostWaiting <= rooms,
      }).toEqual({ shardJobsQueued: true, everyJoinHeard: true, withinBound: true, waitingAtMostOnePerRoom: true });
    } finally {
      for (const client of clients) client.terminate();
    }
  });
});
