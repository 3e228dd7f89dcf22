import type { MiddlewareObj } from '@middy/core';
import type { DependencyProvider } from '../wiring/dependencies.ts';
import type { FrameContext } from './parse-frame.ts';
import { weightOf } from '../frames/inbound-frame.ts';
import { maybeConnectionIdOf, type WebSocketEvent, type WebSocketResult } from '../frames/websocket-event.ts';

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
 * Counts every inbound frame, valid or not, against its connection's budget by the work it can cause,
 * before any I/O of the frame's own runs: a flood costs one counter update per frame and reaches neither
 * the service nor the fan-out. It runs after {@link parseFrame}, which only reads the frame.
 */
export function rateLimit(
  dependencies: DependencyProvider,
): MiddlewareObj<WebSocketEvent, WebSocketResult, Error, FrameContext> {
  return {
    before: async (request) => {
      const connectionId = maybeConnectionIdOf(request.event);
      if (connectionId === undefined) return;
      const { rateLimiter, rateLimit: limit } = dependencies();
      const parsed = request.context.frame;
      const admission = await rateLimiter.admit(
        connectionId,
        weightOf(parsed !== undefined && 'request' in parsed ? parsed.request : undefined),
      );
      if (admission === 'allowed') return;
      throw new RateLimitedError(
        admission === 'limited-notify',
        `too many frames: at most ${limit.frames} every ${limit.windowSeconds} s (joins, replays and roster pages count more); the rest of this window's frames are dropped`,
      );
    },
  };
}
