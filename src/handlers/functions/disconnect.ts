import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import { dependencies } from '../wiring/composition-root.ts';
import { ownersOf } from '../frames/connection-owners.ts';
import type { DependencyProvider } from '../wiring/dependencies.ts';
import { loggerOf } from '../wiring/logger-of.ts';
import { observability } from '../middlewares/observability.ts';
import { connectionIdOf, isEventOfType, type WebSocketEvent, type WebSocketResult } from '../frames/websocket-event.ts';

/**
 * Builds the `$disconnect` handler: forgets the connection, gives its slots back to its user and address,
 * and tells its room. API Gateway ignores its response.
 */
export function createDisconnectHandler(deps: DependencyProvider) {
  return middy<WebSocketEvent, WebSocketResult>()
    .use(observability(deps))
    .use(httpErrorHandler({ logger: (error: unknown) => loggerOf(deps).error('disconnect failed', { error: error }) }))
    .handler(async (event) => {
      const { service, metrics } = deps();
      if (!isEventOfType(event, 'DISCONNECT')) {
        await service.reject(connectionIdOf(event), 'unknown_action', 'unknown action "$disconnect"');
        return { statusCode: 400 };
      }
      await service.disconnect(connectionIdOf(event), ownersOf(event));
      metrics.count('Disconnections');
      return { statusCode: 200 };
    });
}

/** The `$disconnect` route's Lambda handler. */
export const handler = createDisconnectHandler(dependencies);
