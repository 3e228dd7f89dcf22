import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbConnectionQuota } from '../../../src/adapters/dynamodb-connection-quota.ts';
import { DynamoDbConnectionRepository } from '../../../src/adapters/dynamodb-connection-repository.ts';
import { DynamoDbMessageHistory } from '../../../src/adapters/dynamodb-message-history.ts';
import { DynamoDbPresenceLog } from '../../../src/adapters/dynamodb-presence-log.ts';
import { DynamoDbRateLimiter } from '../../../src/adapters/dynamodb-rate-limiter.ts';
import { DynamoDbShardProgress } from '../../../src/adapters/dynamodb-shard-progress.ts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDbTarget } from '../dynamodb.ts';
import { DynamoDbFaultProxy, type FaultShares, type ProxyCounts } from '../dynamodb-fault-proxy.ts';
import { streamOf } from './fault-dice.ts';
import type { FaultSwitches } from './fault-kinds.ts';
import type { Storage, StorageContext, StorageFactory, StoragePorts } from './storage.ts';

/** Each request's chance of each fault while a step runs (each attempt's, when the SDK retries). */
const SHARES: FaultShares = { throttle: 0.03, dropBefore: 0.03, dropAfter: 0.04 };
/**
 * Attempts per request, by seed: 1 (every fault reaches the adapter, as the port proxy's do), 2 (a fault is
 * retried, two in a row fail the request), or the SDK's default 3.
 */
const attemptsOf = (seed: number): number => 1 + (seed % 3);
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

/** FNV-1a of a string, for a request's roll. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * Each request's roll, drawn from the step's stream by the request itself: its body (without the table's name
 * and the random change tokens that differ from run to run) and how many times the same body was sent in this
 * step (the SDK's replays). Concurrent requests whose order on the wire varies keep their fates; what still
 * varies is the order of their effects (and of the deliveries the messenger's dice decide), so a run is not
 * guaranteed to be an exact replay (in practice the runs of a seed have matched, faults and deliveries alike,
 * but shrinking tries each candidate more than once). No faults outside a step, nor in $disconnect without `disconnect-faults`.
 */
function requestRolls(
  { seed, switches, dice }: StorageContext,
  tableName: string,
): (label: string, body: Buffer) => number {
  const sent = new Map<string, number>();
  let step = -1;
  return (_label, body) => {
    if (!dice.enabled) return 1;
    if (dice.invocation === 'disconnect' && !switches.has('disconnect-faults')) return 1;
    if (dice.step !== step) {
      step = dice.step;
      sent.clear();
    }
    const request = body.toString('utf8').replaceAll(tableName, 'T').replace(UUID, 'U');
    const times = (sent.get(request) ?? 0) + 1;
    sent.set(request, times);
    return streamOf(seed ^ hashOf(request), step, 3 + times)();
  };
}

function adapters(client: DynamoDBDocumentClient, tableName: string, context: StorageContext): StoragePorts {
  const { config, now, rateLimit } = context;
  const shards = config.roomShards;
  return {
    connections: new DynamoDbConnectionRepository(client, { tableName, shards, pageSize: 2, now }),
    history: new DynamoDbMessageHistory(client, { tableName, retentionSeconds: RETENTION_SECONDS, now }),
    presence: new DynamoDbPresenceLog(client, { tableName, shards, now }),
    quota: new DynamoDbConnectionQuota(client, {
      tableName,
      caps: { perUser: config.perUser, perIp: config.perIp },
      now,
    }),
    rateLimiter: new DynamoDbRateLimiter(client, { tableName, limit: rateLimit, now }),
    shardProgress: new DynamoDbShardProgress(client, { tableName, now }),
  };
}

/**
 * The DynamoDB adapters on dynalite, a fresh table per run, behind a fault proxy whose throttles, dropped
 * requests and lost answers the SDK retries as it does against AWS. The harness reads the same table past the
 * proxy. `totals` adds up the faults of every run.
 */
export function dynamoDbStorage(target: DynamoDbTarget, totals: FaultTotals): StorageFactory {
  return async (context): Promise<Storage> => {
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
      async close() {
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
