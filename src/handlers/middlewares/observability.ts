import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { DependencyProvider } from '../wiring/dependencies.ts';
import type { WebSocketEvent, WebSocketResult } from '../frames/websocket-event.ts';

/**
 * Tags every log line of an invocation with its connection, route and request, and publishes the
 * invocation's metrics when it ends, whatever the outcome. It must be the first middleware.
 */
export function observability(
  dependencies: DependencyProvider,
): MiddlewareObj<WebSocketEvent, WebSocketResult, Error, Context> {
  const publish = (): void => {
    try {
      dependencies().metrics.publish();
    } catch {
      // No dependencies (a configuration error), so no metrics were counted either.
    }
  };
  return {
    before: (request) => {
      let logger;
      try {
        logger = dependencies().logger;
      } catch {
        return;
      }
      const { requestContext } = request.event;
      logger.resetKeys();
      logger.appendKeys({
        connectionId: requestContext?.connectionId,
        route: requestContext?.routeKey,
        requestId: request.context?.awsRequestId,
      });
    },
    after: publish,
    onError: publish,
  };
}
