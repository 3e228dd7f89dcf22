import type { ChatService } from '../../domain/chat-service.ts';
import type { FanOutQueue } from '../../domain/fan-out-queue.ts';
import type { OwnerBudget, OwnerBudgetLimit } from '../../domain/owner-budget.ts';
import type { RateLimit, RateLimiter } from '../../domain/rate-limiter.ts';
import type { FrameLimits } from '../frames/inbound-frame.ts';
import type { ChatMetrics, Logger } from '../../domain/observability.ts';
import type { TokenVerifier } from '../../domain/token-verifier.ts';

/** What the handlers need, built once per container by the composition root or by a test. */
export interface Dependencies {
  readonly service: ChatService;
  readonly chatMode: 'broadcast' | 'echo';
  /** `jwt`: every connection was authenticated at $connect, and names come from its token. */
  readonly authMode: 'none' | 'jwt';
  /** Origins a browser handshake may come from; empty allows any. */
  readonly allowedOrigins: readonly string[];
  readonly limits: FrameLimits;
  readonly logger: Logger;
  readonly metrics: ChatMetrics;
  readonly rateLimiter: RateLimiter;
  readonly rateLimit: RateLimit;
  /** What each owner's connections together may send (and each connect costs); without it, owners are not budgeted. */
  readonly ownerBudget?: { readonly budget: OwnerBudget; readonly limit: OwnerBudgetLimit };
  /** What each caller of the publish API may ask; without it, callers are not budgeted. */
  readonly publishBudget?: { readonly budget: OwnerBudget; readonly limit: OwnerBudgetLimit };
  /** Jobs for the fan-out worker (SQS in the functions, in memory in the unit tests). */
  readonly fanOutQueue: FanOutQueue;
}

/** Returns the same dependencies on every call after the first. */
export type DependencyProvider = () => Dependencies;

/** What the $connect authorizer needs. */
export interface AuthorizerDependencies {
  readonly verifier: TokenVerifier;
  readonly logger: Logger;
  readonly metrics: ChatMetrics;
}
