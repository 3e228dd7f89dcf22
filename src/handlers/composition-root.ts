import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ApiGatewayMessenger } from '../adapters/api-gateway-messenger.ts';
import { DynamoDbConnectionQuota } from '../adapters/dynamodb-connection-quota.ts';
import { DynamoDbConnectionRepository } from '../adapters/dynamodb-connection-repository.ts';
import { DynamoDbMessageHistory } from '../adapters/dynamodb-message-history.ts';
import { DynamoDbRateLimiter } from '../adapters/dynamodb-rate-limiter.ts';
import { ChatService } from '../domain/chat-service.ts';
import { loadConfig } from './config.ts';
import type { Dependencies } from './dependencies.ts';
import { createPowertoolsLogger } from './logger.ts';
import { createPowertoolsMetrics } from './metrics.ts';

/** Builds every client and adapter from the environment. Called once per container. */
export function buildDependencies(env: Record<string, string | undefined>): Dependencies {
  const config = loadConfig(env);
  const sockets = { keepAlive: true, maxSockets: config.broadcastConcurrency };
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const management = new ApiGatewayManagementApiClient({
    endpoint: config.managementEndpoint,
    maxAttempts: config.sendMaxAttempts,
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(sockets),
      httpsAgent: new HttpsAgent(sockets),
    }),
  });
  const service = new ChatService({
    connections: new DynamoDbConnectionRepository(dynamo, { tableName: config.chatTable }),
    history: new DynamoDbMessageHistory(dynamo, {
      tableName: config.chatTable,
      retentionSeconds: config.historyRetentionSeconds,
    }),
    messenger: new ApiGatewayMessenger(management, { timeoutMs: config.sendTimeoutMs }),
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
    logger: createPowertoolsLogger(),
    metrics: createPowertoolsMetrics(),
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
