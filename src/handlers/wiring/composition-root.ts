import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbConnectionQuota } from '../../adapters/dynamodb-connection-quota.ts';
import { DynamoDbConnectionRepository } from '../../adapters/dynamodb-connection-repository.ts';
import { ConnectionSnapshots } from '../../adapters/dynamodb-connection-snapshots.ts';
import { DynamoDbMessageHistory } from '../../adapters/dynamodb-message-history.ts';
import { DynamoDbPresenceLog } from '../../adapters/dynamodb-presence-log.ts';
import { DynamoDbShardProgress } from '../../adapters/dynamodb-shard-progress.ts';
import { DynamoDbOwnerBudget } from '../../adapters/dynamodb-owner-budget.ts';
import { DynamoDbRateLimiter } from '../../adapters/dynamodb-rate-limiter.ts';
import { SqsFanOutQueue } from '../../adapters/sqs-fan-out-queue.ts';
import { ChatService } from '../../domain/chat-service.ts';
import { buildMessenger } from './build-messenger.ts';
import { KeyedSha256 } from './keyed-sha256.ts';
import { type Config, loadConfig } from './config.ts';
import type { Dependencies } from './dependencies.ts';
import { PowertoolsLogger } from '../../adapters/powertools-logger.ts';
import { PowertoolsChatMetrics } from '../../adapters/powertools-metrics.ts';

/**
 * Takes out per-request middleware that the functions never need, as buildMessenger does for @connections:
 * loggerMiddleware logs to the SDK's no-op logger, getUserAgentMiddleware builds headers that serve only AWS's SDK
 * usage statistics, recursionDetectionMiddleware links X-Ray traces (tracing is off) and Lambda loops (no DynamoDB call
 * invokes a function). In the presence storms' profiles (bench/profile-storm.ts) the user-agent middleware alone
 * was 2-5 % of the handlers' SDK time.
 */
function withoutMiddleware(client: { middlewareStack: { remove(name: string): boolean } }, names: string[]): void {
  for (const name of names) client.middlewareStack.remove(name);
}

/** The SQS client and the fan-out queues over it. */
function buildFanOutQueue(config: Config): SqsFanOutQueue {
  // A local queue's URL names a host that need not resolve: send to the configured endpoint, never the URL's host.
  const endpoint = config.sqsEndpoint === undefined ? undefined : { url: new URL(config.sqsEndpoint) };
  const sqs = new SQSClient({
    credentials: fromEnv(),
    sha256: KeyedSha256,
    ...(endpoint === undefined
      ? {}
      : { endpoint: config.sqsEndpoint, endpointProvider: () => endpoint, useQueueUrlAsEndpoint: false }),
  });
  // Kept: recursionDetectionMiddleware, whose trace header lets Lambda stop a loop through this queue.
  withoutMiddleware(sqs, ['loggerMiddleware', 'getUserAgentMiddleware']);
  return new SqsFanOutQueue(sqs, { queueUrls: config.fanOutQueueUrls });
}

/** Builds every client and adapter from the environment. Called once per container. */
export function buildDependencies(env: Record<string, string | undefined>): Dependencies {
  const config = loadConfig(env);
  // Lambda sets the role's credentials in the environment; the rest of the SDK's default chain never runs there.
  const dynamoDb = new DynamoDBClient({ credentials: fromEnv(), sha256: KeyedSha256 });
  withoutMiddleware(dynamoDb, ['loggerMiddleware', 'getUserAgentMiddleware', 'recursionDetectionMiddleware']);
  const dynamo = DynamoDBDocumentClient.from(dynamoDb);
  const fanOutQueue = buildFanOutQueue(config);
  // The rate count returns each frame's connection item, which its handling then reads instead of asking again.
  const snapshots = new ConnectionSnapshots();
  const quota = new DynamoDbConnectionQuota(dynamo, { tableName: config.chatTable, caps: config.connectionCaps });
  const ownerBudget =
    config.ownerLimit.frames === 0
      ? undefined
      : new DynamoDbOwnerBudget(dynamo, { tableName: config.chatTable, limit: config.ownerLimit });
  // Publishers' budgets are items of their own (owner publisher:<caller>), kept apart from members' by the prefix.
  const publishBudget =
    config.publishLimit.frames === 0
      ? undefined
      : new DynamoDbOwnerBudget(dynamo, { tableName: config.chatTable, limit: config.publishLimit });
  const service = new ChatService({
    // A new connection's row and its owners' slots are one write.
    connections: new DynamoDbConnectionRepository(dynamo, {
      tableName: config.chatTable,
      shards: config.roomShards,
      growAt: config.roomGrowAt,
      quota,
      ...(ownerBudget !== undefined ? { ownerBudget } : {}),
      snapshots,
    }),
    history: new DynamoDbMessageHistory(dynamo, {
      tableName: config.chatTable,
      retentionSeconds: config.historyRetentionSeconds,
    }),
    messenger: buildMessenger(config),
    concurrency: config.broadcastConcurrency,
    quota,
    ...(ownerBudget !== undefined ? { ownerBudget } : {}),
    connectWeight: config.connectWeight,
    presence: new DynamoDbPresenceLog(dynamo, { tableName: config.chatTable, shards: config.roomShards }),
    fanOutQueue,
    presenceWindowMs: config.presenceWindowMs,
    bigRoomSize: config.bigRoomSize,
    fanOutShardSize: config.fanOutShardSize,
    shardProgress: new DynamoDbShardProgress(dynamo, { tableName: config.chatTable }),
  });
  const rateLimiter = new DynamoDbRateLimiter(dynamo, {
    tableName: config.chatTable,
    limit: config.rateLimit,
    snapshots,
  });
  return {
    service,
    chatMode: config.chatMode,
    authMode: config.authMode,
    allowedOrigins: config.allowedOrigins,
    limits: config.limits,
    logger: new PowertoolsLogger(),
    metrics: new PowertoolsChatMetrics(),
    rateLimiter,
    rateLimit: config.rateLimit,
    ...(ownerBudget !== undefined ? { ownerBudget: { budget: ownerBudget, limit: config.ownerLimit } } : {}),
    ...(publishBudget !== undefined ? { publishBudget: { budget: publishBudget, limit: config.publishLimit } } : {}),
    fanOutQueue,
  };
}

let built: Dependencies | undefined;

/** The container's dependencies, built on first use so that importing a handler has no side effects. */
export function dependencies(): Dependencies {
  built ??= buildDependencies(process.env);
  return built;
}
