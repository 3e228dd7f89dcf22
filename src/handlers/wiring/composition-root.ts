import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ApiGatewayMessenger } from '../../adapters/api-gateway-messenger.ts';
import { DynamoDbConnectionQuota } from '../../adapters/dynamodb-connection-quota.ts';
import { DynamoDbConnectionRepository } from '../../adapters/dynamodb-connection-repository.ts';
import { DynamoDbMessageHistory } from '../../adapters/dynamodb-message-history.ts';
import { DynamoDbRateLimiter } from '../../adapters/dynamodb-rate-limiter.ts';
import { ChatService } from '../../domain/chat-service.ts';
import { type Config, loadAuthConfig, loadConfig } from './config.ts';
import type { AuthorizerDependencies, Dependencies } from './dependencies.ts';
import { JoseTokenVerifier, type TokenKeys } from '../../adapters/jose-token-verifier.ts';
import { PowertoolsLogger } from '../../adapters/powertools-logger.ts';
import { PowertoolsChatMetrics } from '../../adapters/powertools-metrics.ts';
import type { Logger } from '../../domain/observability.ts';

/** The `@connections` client and the messenger over it, as every function uses them (and bench/messenger.ts measures). */
export function buildMessenger(config: Config): ApiGatewayMessenger {
  const sockets = { keepAlive: true, maxSockets: config.broadcastConcurrency };
  const management = new ApiGatewayManagementApiClient({
    endpoint: config.managementEndpoint,
    maxAttempts: config.sendMaxAttempts,
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(sockets),
      httpsAgent: new HttpsAgent(sockets),
    }),
  });
  return new ApiGatewayMessenger(management, { timeoutMs: config.sendTimeoutMs });
}

/** Builds every client and adapter from the environment. Called once per container. */
export function buildDependencies(env: Record<string, string | undefined>): Dependencies {
  const config = loadConfig(env);
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}));
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

/** Builds the $connect authorizer's verifier and logger from its AUTH_* settings; it reads no data. */
export function buildAuthorizerDependencies(env: Record<string, string | undefined>): AuthorizerDependencies {
  const { keys, ...claims } = loadAuthConfig(env);
  // The config checked the key set's shape; jose checks each key when it is used.
  return { verifier: new JoseTokenVerifier({ keys: keys as TokenKeys, ...claims }), logger: new PowertoolsLogger() };
}

let builtAuthorizer: AuthorizerDependencies | undefined;

/** The authorizer container's dependencies, built on first use. */
export function authorizerDependencies(): AuthorizerDependencies {
  builtAuthorizer ??= buildAuthorizerDependencies(process.env);
  return builtAuthorizer;
}

let fallback: Logger | undefined;

/** The dependencies' logger, or a plain Powertools logger when the dependencies cannot be built. */
export function loggerOf(provider: () => { readonly logger: Logger }): Logger {
  try {
    return provider().logger;
  } catch {
    fallback ??= new PowertoolsLogger();
    return fallback;
  }
}
