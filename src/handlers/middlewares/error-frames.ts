import type { MiddlewareObj } from '@middy/core';
import { ConcurrentChangeError, InvalidCursorError, UnknownConnectionError } from '../../domain/errors.ts';
import type { DependencyProvider } from '../wiring/dependencies.ts';
import type { ErrorCode } from '../../domain/frames.ts';
import { clientMsgIdOfBody, InvalidFrameError } from '../frames/inbound-frame.ts';
import { loggerOf } from '../wiring/logger-of.ts';
import { RateLimitedError } from './rate-limit.ts';
import { maybeConnectionIdOf, type WebSocketEvent, type WebSocketResult } from '../frames/websocket-event.ts';

// A frame can fail after part of its work was done (a message stored and sent to some members, a welcome
// sent without all of its replay), so this says what is known: it did not complete.
const INTERNAL_MESSAGE = 'the server failed before it finished handling this frame; it may have been handled in part';

interface Refusal {
  readonly code: ErrorCode;
  readonly message: string;
  readonly clientMsgId?: string | undefined;
}

/** The client-facing refusal for an error the client can act on; `undefined` for a server failure. */
function refusalFor(error: unknown): Refusal | undefined {
  if (error instanceof InvalidFrameError)
    return { code: error.code, message: error.message, clientMsgId: error.clientMsgId };
  if (error instanceof UnknownConnectionError) {
    return { code: 'unknown_connection', message: 'this connection is not registered; reconnect' };
  }
  if (error instanceof InvalidCursorError) {
    return { code: 'invalid_frame', message: `cursor: ${error.message}; send who without a cursor to start over` };
  }
  if (error instanceof ConcurrentChangeError) {
    return {
      code: 'conflict',
      message: 'too many changes to this connection at once; nothing was changed by this frame, try again',
    };
  }
  return undefined;
}

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
      let deps;
      try {
        deps = dependencies();
      } catch (configError) {
        loggerOf(dependencies).error('cannot build dependencies', { error: configError });
        request.response = { statusCode: 500 };
        return;
      }
      if (error instanceof RateLimitedError) {
        // Only the first refusal of a window is answered, so a flood is not echoed back as a flood.
        if (error.notify && connectionId !== undefined) {
          await deps.service
            .reject(connectionId, 'rate_limited', error.message)
            .catch((sendError: unknown) =>
              deps.logger.error('could not send error frame', { connectionId, error: sendError }),
            );
        }
        deps.metrics.count('RateLimited');
        if (error.notify) deps.logger.info('rate limited', { connectionId });
        request.response = { statusCode: 429 };
        return;
      }
      const refusal = refusalFor(error);
      if (refusal !== undefined) {
        deps.metrics.count('RefusedFrames');
        deps.logger.info('frame refused', { connectionId, code: refusal.code });
      } else deps.logger.error('message route failed', { connectionId, error: error });
      if (connectionId === undefined) {
        request.response = { statusCode: 400 };
        return;
      }
      const frame = refusal ?? { code: 'internal_error', message: INTERNAL_MESSAGE };
      // Whatever went wrong, a client that named its message can tell which one was not sent.
      const clientMsgId =
        frame.clientMsgId ?? (typeof event.body === 'string' ? clientMsgIdOfBody(event.body) : undefined);
      try {
        await deps.service.reject(connectionId, frame.code, frame.message, clientMsgId);
      } catch (sendError) {
        deps.logger.error('could not send error frame', { connectionId, error: sendError });
      }
      request.response = { statusCode: refusal !== undefined ? 400 : 500 };
    },
  };
}
