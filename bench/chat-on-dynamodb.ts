/**
 * The chat service on the real DynamoDB adapters, wired as the composition root wires them with the deployed
 * configuration's defaults, on a clock the caller moves: the measurements of bench/request-budget.ts and
 * bench/read-units.ts run on it.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbConnectionQuota } from '../src/adapters/dynamodb-connection-quota.ts';
import { DynamoDbConnectionRepository } from '../src/adapters/dynamodb-connection-repository.ts';
import { ConnectionSnapshots } from '../src/adapters/dynamodb-connection-snapshots.ts';
import { DynamoDbMessageHistory } from '../src/adapters/dynamodb-message-history.ts';
import { DynamoDbPresenceLog } from '../src/adapters/dynamodb-presence-log.ts';
import { DynamoDbOwnerBudget } from '../src/adapters/dynamodb-owner-budget.ts';
import { DynamoDbRateLimiter } from '../src/adapters/dynamodb-rate-limiter.ts';
import { DynamoDbShardProgress } from '../src/adapters/dynamodb-shard-progress.ts';
import { InMemoryFanOutQueue } from '../src/adapters/in-memory-fan-out-queue.ts';
import { ChatService } from '../src/domain/chat-service.ts';
import type { Messenger } from '../src/domain/messenger.ts';
import { type Config, loadConfig } from '../src/handlers/wiring/config.ts';

export interface ChatOnDynamoDb {
  readonly config: Config;
  readonly service: ChatService;
  readonly rateLimiter: DynamoDbRateLimiter;
  readonly ownerBudget: DynamoDbOwnerBudget;
  readonly queue: InMemoryFanOutQueue;
  /** Runs the flushes the operations before asked for, as the fan-out worker would. */
  settle(): Promise<void>;
}

/** The deployed defaults, on table `tableName`. */
export function defaultConfig(tableName: string): Config {
  return loadConfig({
    CHAT_TABLE: tableName,
    WEBSOCKET_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:1',
    FANOUT_QUEUE_URL: 'http://127.0.0.1:1/000000000000/fanout',
    PRESENCE_QUEUE_URL: 'http://127.0.0.1:1/000000000000/presence',
  });
}

export function chatOnDynamoDb(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  messenger: Messenger,
  clock: () => Date,
): ChatOnDynamoDb {
  const config = defaultConfig(tableName);
  const queue = new InMemoryFanOutQueue(clock);
  // As the composition root wires them: the rate count's item stands in for the frame's read of its sender.
  const snapshots = new ConnectionSnapshots();
  const quota = new DynamoDbConnectionQuota(dynamo, { tableName, caps: config.connectionCaps, now: clock });
  const ownerBudget = new DynamoDbOwnerBudget(dynamo, { tableName, limit: config.ownerLimit, now: clock });
  const service = new ChatService({
    connections: new DynamoDbConnectionRepository(dynamo, {
      tableName,
      shards: config.roomShards,
      growAt: config.roomGrowAt,
      quota,
      ownerBudget,
      snapshots,
      now: clock,
    }),
    history: new DynamoDbMessageHistory(dynamo, {
      tableName,
      retentionSeconds: config.historyRetentionSeconds,
      now: clock,
    }),
    messenger,
    concurrency: config.broadcastConcurrency,
    quota,
    ownerBudget,
    connectWeight: config.connectWeight,
    presence: new DynamoDbPresenceLog(dynamo, { tableName, shards: config.roomShards, now: clock }),
    fanOutQueue: queue,
    presenceWindowMs: config.presenceWindowMs,
    bigRoomSize: config.bigRoomSize,
    fanOutShardSize: config.fanOutShardSize,
    shardProgress: new DynamoDbShardProgress(dynamo, { tableName, now: clock }),
    now: clock,
  });
  const rateLimiter = new DynamoDbRateLimiter(dynamo, { tableName, limit: config.rateLimit, snapshots, now: clock });
  return {
    config,
    service,
    rateLimiter,
    ownerBudget,
    queue,
    async settle() {
      for (const job of queue.takeDue()) if (job.kind === 'presence') await service.flushPresence(job);
    },
  };
}
