import type { MiddlewareObj } from '@middy/core';
import type { DependencyProvider } from '../wiring/dependencies.ts';
import type { FrameContext } from './parse-frame.ts';
import { budgetOwnerOf } from '../../domain/owner-budget.ts';
import { ownersOf } from '../frames/connection-owners.ts';
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
 * Counts every inbound frame, valid or not, against its connection's budget and its owner's (its user, else its
 * address: see {@link budgetOwnerOf}) by the work it can cause, before any I/O of the frame's own runs: a flood
 * costs the two counts, made side by side, and reaches neither the service nor the fan-out; once refused, a
 * connection's or an owner's next frames are refused by the container without a request. It runs after
 * {@link parseFrame}, which only reads the frame.
 */
export function rateLimit(
  dependencies: DependencyProvider,
): MiddlewareObj<WebSocketEvent, WebSocketResult, Error, FrameContext> {
  return {
    before: async (request) => {
      const connectionId = maybeConnectionIdOf(request.event);
      if (connectionId === undefined) return;
      const { rateLimiter, rateLimit: limit, ownerBudget } = dependencies();
      const parsed = request.context.frame;
      const weight = weightOf(parsed !== undefined && 'request' in parsed ? parsed.request : undefined);
      const owners = ownerBudget === undefined ? {} : ownersOf(request.event);
      const owner = budgetOwnerOf(owners);
      const [admission, spent] = await Promise.all([
        rateLimiter.admit(connectionId, weight),
        owner === undefined || ownerBudget === undefined ? 'allowed' : ownerBudget.budget.spend(owner, weight),
      ]);
      if (admission !== 'allowed') {
        throw new RateLimitedError(
          admission === 'limited-notify',
          `too many frames: at most ${limit.frames} every ${limit.windowSeconds} s (joins, replays and roster pages count more); the rest of this window's frames are dropped`,
        );
      }
      if (spent === 'allowed' || ownerBudget === undefined) return;
      const { frames, windowSeconds } = ownerBudget.limit;
      const whose = owners.userId !== undefined ? 'your user' : 'your address';
      throw new RateLimitedError(
        spent === 'limited-notify',
        `too many frames from ${whose}: its connections together may send ${frames} every ${windowSeconds} s, and reconnecting does not add to that (joins, replays and roster pages count more); frames are dropped until then`,
      );
    },
  };
}
