import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ApiGatewayMessenger } from '../../adapters/api-gateway-messenger.ts';
import { DynamoDbConnectionQuota } from '../../adapters/dynamodb-connection-quota.ts';
import { DynamoDbConnectionRepository } from '../../adapters/dynamodb-connection-repository.ts';
import { DynamoDbMessageHistory } from '../../adapters/dynamodb-message-history.ts';
import { DynamoDbRateLimiter } from '../../adapters/dynamodb-rate-limiter.ts';
import { ChatService } from '../../domain/chat-service.ts';
import { type Config, loadConfig } from './config.ts';
import type { Dependencies } from './dependencies.ts';
import { PowertoolsLogger } from '../../adapters/powertools-logger.ts';
import { PowertoolsChatMetrics } from '../../adapters/powertools-metrics.ts';

/** The `@connections` client and the messenger over it, as every function uses them (and bench/messenger.ts measures). */
export function buildMessenger(config: Config): ApiGatewayMessenger {
  const sockets = { keepAlive: true, maxSockets: config.broadcastConcurrency };
  // The endpoint is fixed for the container: resolve it once, not through the endpoint rule set on every send.
  const endpoint = { url: new URL(config.managementEndpoint) };
  const management = new ApiGatewayManagementApiClient({
    credentials: fromEnv(),
    endpoint: config.managementEndpoint,
    endpointProvider: () => endpoint,
    maxAttempts: config.sendMaxAttempts,
    // Build PostToConnection's middleware chain once, not once per send.
    cacheMiddleware: true,
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(sockets),
      httpsAgent: new HttpsAgent(sockets),
    }),
  });
  // What a PostToConnection from Lambda never needs (bench/messenger.ts measures each send's CPU):
  // - loggerMiddleware: logs request and response metadata to the client's logger, which is the SDK's no-op logger;
  // - getUserAgentMiddleware: builds the user-agent headers, which serve only AWS's SDK usage statistics;
  // - recursionDetectionMiddleware: copies _X_AMZN_TRACE_ID into X-Amzn-Trace-Id, which only links X-Ray traces
  //   (tracing is off) and lets Lambda stop loops of Lambdas invoking each other; a post to a WebSocket invokes none.
  for (const name of ['loggerMiddleware', 'getUserAgentMiddleware', 'recursionDetectionMiddleware']) {
    management.middlewareStack.remove(name);
  }
  return new ApiGatewayMessenger(management, { timeoutMs: config.sendTimeoutMs });
}

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
