import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { messageBodyOf, SqsFanOutQueue } from '../../../src/adapters/sqs-fan-out-queue.ts';
import type { FanOutJob, FanOutQueue } from '../../../src/domain/fan-out-queue.ts';
import { SQS_FAULTS, SqsFaultProxy, type SqsFaultShares, type SqsProxyCounts } from '../sqs-fault-proxy.ts';
import { attemptsOf, requestRolls } from './request-rolls.ts';
import type { FaultSwitches } from './fault-kinds.ts';
import type { SuiteSettings } from './fault-suite.ts';
import type { SimQueue } from './sim-queue.ts';
import type { StorageContext } from './storage.ts';
import { configOf } from './workload.ts';

/**
 * Each SQS request's chance of each fault while a step runs (each attempt's, when the SDK retries): higher than the
 * DynamoDB proxy's, as a run sends a few dozen fan-out requests to hundreds of DynamoDB ones.
 */
const SHARES: SqsFaultShares = {
  throttle: 0.06,
  serverError: 0.06,
  dropBefore: 0.06,
  dropAfter: 0.12,
  refusedEntry: 0.15,
};

/** The SQS faults of every run of a suite, what the proxy forwarded, and what the bridge saw. */
export interface SqsTotals extends SqsProxyCounts {
  /** Calls of the adapter (`enqueue` or `enqueueAll`) that threw. */
  failedSends: number;
  /** Messages SQS held, each handed to the simulated queue. */
  delivered: number;
  /** Messages whose body an earlier message of the same call already had: a send the SDK replayed. */
  duplicates: number;
}

export const emptySqsTotals = (): SqsTotals => ({
  forwarded: 0,
  throttle: 0,
  serverError: 0,
  dropBefore: 0,
  dropAfter: 0,
  refusedEntry: 0,
  failedSends: 0,
  delivered: 0,
  duplicates: 0,
});

/**
 * The proxy's shares under the switches: `throttles` fail requests (or a batch's entries) before they apply,
 * `lost-answers` after.
 */
function sharesUnder(switches: FaultSwitches): SqsFaultShares {
  const before = switches.has('throttles');
  return {
    throttle: before ? SHARES.throttle : 0,
    serverError: before ? SHARES.serverError : 0,
    dropBefore: before ? SHARES.dropBefore : 0,
    dropAfter: switches.has('lost-answers') ? SHARES.dropAfter : 0,
    refusedEntry: before ? SHARES.refusedEntry : 0,
  };
}

/** The kinds of SQS fault injected under the switches, and `duplicates` when lost answers are replayed. */
export function sqsFaultKindsOn(switches: FaultSwitches): string[] {
  const shares = sharesUnder(switches);
  return [...SQS_FAULTS.filter((fault) => shares[fault] > 0), ...(shares.dropAfter > 0 ? ['duplicates'] : [])];
}

/** The kinds the totals count at least once. */
export function sqsFaultKindsIn(totals: SqsTotals): string[] {
  return [...SQS_FAULTS, 'duplicates' as const].filter((kind) => totals[kind] > 0);
}

/**
 * The settings' first `count` seeds whose big rooms fan out in shard jobs (a shard size of 3 or 4), which the
 * adapter sends in batches: the SQS runs' seeds, as few seeds fill a room past 1000. A single `FAULT_SEED` stays.
 */
export function shardingSeeds(settings: SuiteSettings, count: number): SuiteSettings {
  if (settings.seeds.length === 1) return settings;
  const seeds = settings.seeds.filter((seed) => configOf(seed).fanOutShardSize < 1000).slice(0, count);
  return { ...settings, seeds };
}

/** fauxqs on loopback, as the suite reaches it past the proxy. */
export interface SqsTarget {
  readonly endpoint: string;
  /** A client straight to fauxqs, without faults. */
  readonly client: SQSClient;
}

/** One run's fan-out queue through SQS: `queue` puts it in front of the run's simulated queue. */
export interface RunQueue {
  queue(sim: SimQueue): FanOutQueue;
  /** What went wrong below the chat: an adapter call that resolved without queueing its jobs, a bridge failure. */
  problems(): readonly string[];
  close(): Promise<void>;
}

let queues = 0;

/**
 * The fan-out queue the handlers send through, in front of the simulated one: the real `SqsFanOutQueue` adapter,
 * its SQS client (the SDK's retries, `attemptsOf(seed)` attempts) going through {@link SqsFaultProxy} to a fresh
 * fauxqs queue per run, with faults seeded per step as the DynamoDB proxy's are.
 *
 * Why a bridge, and not the worker receiving from fauxqs: the simulated queue keeps time on the run's simulated
 * clock (delays of up to 15 minutes, a 3-minute visibility timeout) and decides late, repeated and reordered
 * deliveries, which fauxqs could only do in real time. So each call of the adapter is followed, before the next
 * one starts (the calls are made one at a time), by receiving everything the fauxqs queue holds and deleting it at
 * once, and every message received (an SDK replay's duplicate included, and one sent by a call that then threw, as
 * when the answer of its last attempt was lost) is handed to the simulated queue, due after the DelaySeconds the
 * adapter put on the wire (which the proxy takes off the request, so that fauxqs holds nothing back). A call that
 * resolved and left one of its jobs off the queue breaks the FanOutQueue's promise: the run reports it (invariant
 * 0), as the chat, which recovers lost jobs by design, would not show it.
 *
 * What is real: the adapter's requests and their JSON wire format, its batching and its handling of what a batch
 * refused, the SDK's retries and their replays, and fauxqs's acceptance of each message. What is not: fauxqs's own
 * delays, visibility timeouts and receipt handles (the simulated queue's stand in), ReceiveMessage and
 * DeleteMessage under faults (Lambda's event source mapping makes those calls, not the chat), the concurrency
 * of sends (one adapter call at a time), and the request's signature (the proxy rewrites the body, which fauxqs
 * does not check). The adapter's pause before resending a batch's refused entries is its own, in real time (at
 * most 150 ms a batch).
 */
export async function sqsQueue(target: SqsTarget, context: StorageContext, totals: SqsTotals): Promise<RunQueue> {
  queues += 1;
  const { QueueUrl: queueUrl } = await target.client.send(
    new CreateQueueCommand({ QueueName: `fault-fanout-${process.pid}-${queues}` }),
  );
  if (queueUrl === undefined) throw new Error('fauxqs created no queue');
  const proxy = await new SqsFaultProxy(target.endpoint, sharesUnder(context.switches)).start();
  proxy.roll = requestRolls(context, queueUrl);
  proxy.onFault = (operation, fault) => context.dice.record(`SQS ${operation} ${fault}`);
  const client = proxy.client(attemptsOf(context.seed));
  // One queue for both kinds of job: what is under test is the adapter's sending, not its routing.
  const adapter = new SqsFanOutQueue(client, { queueUrls: { shard: queueUrl, presence: queueUrl } });
  /** What broke the adapter's promise (a send that resolved, its jobs not all on the queue) or the bridge itself. */
  const problems: string[] = [];
  let turn: Promise<void> = Promise.resolve();

  /** Hands what the queue holds to the simulated queue; the bodies handed over. */
  const handOver = async (sim: SimQueue): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (;;) {
      const { Messages = [] } = await target.client.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) break;
      await target.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
      for (const { Body: body } of Messages) {
        const delay = body === undefined ? undefined : proxy.delayOf(body);
        if (body === undefined || delay === undefined) throw new Error(`SQS held a message no request sent: ${body}`);
        if (seen.has(body)) totals.duplicates += 1;
        seen.add(body);
        totals.delivered += 1;
        sim.deliver(body, delay);
      }
    }
    proxy.forgetDelays();
    return seen;
  };

  /**
   * Runs one adapter call after the last one's messages were handed over, then hands over its own; a call that
   * resolved must have put each of its jobs on the queue (FanOutQueue: it throws when one was not handed over).
   */
  const oneAtATime = (sim: SimQueue, what: string, jobs: readonly FanOutJob[], send: () => Promise<void>) => {
    const run = turn.then(async () => {
      let sent = false;
      try {
        await send();
        sent = true;
      } catch (error) {
        totals.failedSends += 1;
        throw error;
      } finally {
        try {
          const held = await handOver(sim);
          const missing = jobs.map(messageBodyOf).filter((body) => !held.has(body));
          if (sent && missing.length > 0) {
            problems.push(`${what} resolved, but SQS holds no message of ${missing.length} of its jobs: ${missing[0]}`);
          }
        } catch (error) {
          problems.push(`the SQS bridge failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    });
    turn = run.catch(() => {});
    return run;
  };

  return {
    queue: (sim) => ({
      enqueue: (job: FanOutJob, delayMs?: number) =>
        oneAtATime(sim, 'enqueue', [job], () => adapter.enqueue(job, delayMs)),
      enqueueAll: (jobs: readonly FanOutJob[]) => oneAtATime(sim, 'enqueueAll', jobs, () => adapter.enqueueAll(jobs)),
    }),
    problems: () => problems,
    async close() {
      await turn;
      client.destroy();
      await proxy.stop();
      for (const kind of [...SQS_FAULTS, 'forwarded'] as const) totals[kind] += proxy.counts[kind];
      await target.client.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    },
  };
}
