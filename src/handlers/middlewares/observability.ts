import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Dependencies } from '../wiring/dependencies.ts';
import type { WebSocketEvent, WebSocketResult } from '../frames/websocket-event.ts';

/** What the middleware reads of an event: a WebSocket route's connection and route, or an SQS batch's records. */
interface ObservedEvent {
  readonly requestContext?: { readonly connectionId?: string; readonly routeKey?: string };
  readonly Records?: readonly unknown[];
}

/**
 * Tags every log line of an invocation with its connection and route (or its batch's size) and request, and
 * publishes the invocation's metrics when it ends, whatever the outcome. It must be the first middleware.
 */
export function observability<TEvent extends ObservedEvent = WebSocketEvent, TResult = WebSocketResult>(
  dependencies: () => Pick<Dependencies, 'logger' | 'metrics'>,
): MiddlewareObj<TEvent, TResult, Error, Context> {
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
      const { requestContext, Records } = request.event;
      logger.resetKeys();
      logger.appendKeys({
        connectionId: requestContext?.connectionId,
        route: requestContext?.routeKey,
        records: Records?.length,
        requestId: request.context?.awsRequestId,
      });
    },
    after: publish,
    onError: publish,
  };
}
