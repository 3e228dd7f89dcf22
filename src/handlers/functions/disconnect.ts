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
      const { service, metrics, logger } = deps();
      if (!isEventOfType(event, 'DISCONNECT')) {
        // API Gateway routes no frame here; only a local emulator does. The function's role may not post to
        // @connections, so there is no error frame to send: the frame is refused and nothing is changed.
        logger.info('a frame reached the $disconnect route: refused', { connectionId: connectionIdOf(event) });
        return { statusCode: 400 };
      }
      await service.disconnect(connectionIdOf(event), ownersOf(event));
      metrics.count('Disconnections');
      return { statusCode: 200 };
    });
}

/** The `$disconnect` route's Lambda handler. */
export const handler = createDisconnectHandler(dependencies);
