import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ApiGatewayMessenger } from '../../adapters/api-gateway-messenger.ts';
import type { Config } from './config.ts';
import { KeyedSha256 } from './keyed-sha256.ts';

/** The `@connections` client and the messenger over it, as every function uses them (and bench/messenger.ts measures). */
export function buildMessenger(config: Config): ApiGatewayMessenger {
  const sockets = { keepAlive: true, maxSockets: config.broadcastConcurrency };
  // The endpoint is fixed for the container: resolve it once, not through the endpoint rule set on every send.
  const endpoint = { url: new URL(config.managementEndpoint) };
  const management = new ApiGatewayManagementApiClient({
    credentials: fromEnv(),
    sha256: KeyedSha256,
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
