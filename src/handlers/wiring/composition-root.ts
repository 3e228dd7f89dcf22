import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbConnectionQuota } from '../../adapters/dynamodb-connection-quota.ts';
import { DynamoDbConnectionRepository } from '../../adapters/dynamodb-connection-repository.ts';
import { DynamoDbMessageHistory } from '../../adapters/dynamodb-message-history.ts';
import { DynamoDbRateLimiter } from '../../adapters/dynamodb-rate-limiter.ts';
import { ChatService } from '../../domain/chat-service.ts';
import { buildMessenger } from './build-messenger.ts';
import { loadConfig } from './config.ts';
import type { Dependencies } from './dependencies.ts';
import { PowertoolsLogger } from '../../adapters/powertools-logger.ts';
import { PowertoolsChatMetrics } from '../../adapters/powertools-metrics.ts';

/** Builds every client and adapter from the environment. Called once per container. */
export function buildDependencies(env: Record<string, string | undefined>): Dependencies {
  const config = loadConfig(env);
  // Lambda sets the role's credentials in the environment; the rest of the SDK's default chain never runs there.
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ credentials: fromEnv() }));
  const service = new ChatService({
    connections: new DynamoDbConnectionRepository(dynamo, { tableName: config.chatTable }),
    history: new DynamoDbMessageHistory(dynamo, {
      tableName: config.chatTable,
      retentionSeconds: config.historyRetentionSeconds,
    }),
    messenger: buildMessenger(config),
    concurrency: config.broadcastConcurrency,
    quota: new DynamoDbConnectionQuota(dynamo, { tableName: config.chatTable, caps: config.connectionCaps }),
  });
  const rateLimiter = new DynamoDbRateLimiter(dynamo, { tableName: config.chatTable, limit: config.rateLimit });
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
  };
}

let built: Dependencies | undefined;

/** The container's dependencies, built on first use so that importing a handler has no side effects. */
export function dependencies(): Dependencies {
  built ??= buildDependencies(process.env);
  return built;
}
