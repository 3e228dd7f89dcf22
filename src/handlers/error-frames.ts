import type { MiddlewareObj } from '@middy/core';
import type { DependencyProvider } from './dependencies.ts';
import { InvalidFrameError } from './inbound-frame.ts';
import { describeError, jsonLogger } from './logger.ts';
import { maybeConnectionIdOf, type WebSocketEvent, type WebSocketResult } from './websocket-event.ts';

const INTERNAL_MESSAGE = 'the server could not handle this frame; nothing was sent';

/**
 * On message routes a status code reaches no one, so every failure becomes an error frame sent to the
 * sender alone: the client's own mistakes with their code and reason, anything else as `internal_error`
 * with no detail. It must be the last middleware.
 */
export function errorFrames(dependencies: DependencyProvider): MiddlewareObj<WebSocketEvent, WebSocketResult> {
  return {
    onError: async (request) => {
      const { error, event } = request;
      const connectionId = maybeConnectionIdOf(event);
      const refused = error instanceof InvalidFrameError;
      let deps;
      try {
        deps = dependencies();
      } catch (configError) {
        jsonLogger.error('cannot build dependencies', describeError(configError));
        request.response = { statusCode: 500 };
        return;
      }
      if (refused) deps.logger.info('frame refused', { connectionId, code: error.code });
      else deps.logger.error('message route failed', { connectionId, ...describeError(error) });
      if (connectionId === undefined) {
        request.response = { statusCode: 400 };
        return;
      }
      try {
        await deps.service.reject(
          connectionId,
          refused ? error.code : 'internal_error',
          refused ? error.message : INTERNAL_MESSAGE,
        );
      } catch (sendError) {
        deps.logger.error('could not send error frame', { connectionId, ...describeError(sendError) });
      }
      request.response = { statusCode: refused ? 400 : 500 };
    },
  };
}
