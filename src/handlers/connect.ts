import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import { dependencies } from './composition-root.ts';
import type { DependencyProvider } from './dependencies.ts';
import { describeError, loggerOf } from './logger.ts';
import { connectionIdOf, type WebSocketEvent, type WebSocketResult } from './websocket-event.ts';

/** Builds the `$connect` handler: records the connection; any failure refuses the handshake with a 500. */
export function createConnectHandler(deps: DependencyProvider) {
  return middy<WebSocketEvent, WebSocketResult>()
    .use(httpErrorHandler({ logger: (error: unknown) => loggerOf(deps).error('connect failed', describeError(error)) }))
    .handler(async (event) => {
      const { service } = deps();
      await service.connect(connectionIdOf(event));
      return { statusCode: 200 };
    });
}

/** The `$connect` route's Lambda handler. */
export const handler = createConnectHandler(dependencies);
