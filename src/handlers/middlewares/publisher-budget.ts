import type { MiddlewareObj } from '@middy/core';
import { publisherKey } from '../../domain/message-history.ts';
import { callerOf, type HttpApiEvent, type HttpApiResult, HttpProblemError } from '../frames/http-request.ts';
import type { DependencyProvider } from '../wiring/dependencies.ts';

/**
 * Spends one unit of the calling publisher's budget (its IAM principal's, shared by every request it signs) for
 * each request, before any work of the request's own: over budget, it is refused with a 429 and nothing else runs.
 */
export function publisherBudget(dependencies: DependencyProvider): MiddlewareObj<HttpApiEvent, HttpApiResult> {
  return {
    before: async (request) => {
      const { publishBudget } = dependencies();
      const caller = callerOf(request.event);
      if (publishBudget === undefined) return;
      const spent = await publishBudget.budget.spend(publisherKey(caller), 1);
      if (spent === 'allowed') return;
      const { frames, windowSeconds } = publishBudget.limit;
      throw new HttpProblemError(
        429,
        'rate_limited',
        `too many requests: each caller may make ${frames} every ${windowSeconds} s, refilled evenly`,
        { retryAfter: Math.max(1, Math.ceil(windowSeconds / frames)) },
      );
    },
  };
}
