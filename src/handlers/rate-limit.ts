import type { MiddlewareObj } from '@middy/core';
import type { DependencyProvider } from './dependencies.ts';
import { maybeConnectionIdOf, type WebSocketEvent, type WebSocketResult } from './websocket-event.ts';

/** A frame over its connection's budget; `notify` is true for the first one of a window only. */
export class RateLimitedError extends Error {
  override readonly name = 'RateLimitedError';
  readonly notify: boolean;

  constructor(notify: boolean, message: string) {
    super(message);
    this.notify = notify;
  }
}

/**
 * Counts every inbound frame, valid or not, against its connection's budget before anything else runs, so
 * that a flood costs one counter update per frame and reaches neither the parser nor the fan-out.
 */
export function rateLimit(dependencies: DependencyProvider): MiddlewareObj<WebSocketEvent, WebSocketResult> {
  return {
    before: async (request) => {
      const connectionId = maybeConnectionIdOf(request.event);
      if (connectionId === undefined) return;
      const { rateLimiter, rateLimit: limit } = dependencies();
      const admission = await rateLimiter.admit(connectionId);
      if (admission === 'allowed') return;
      throw new RateLimitedError(
        admission === 'limited-notify',
        `too many frames: at most ${limit.frames} every ${limit.windowSeconds} s; the rest of this window's frames are dropped`,
      );
    },
  };
}
