import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import * as z from 'zod/mini';
import { MAX_USER_ID_LENGTH } from '../../domain/token-verifier.ts';
import { dependencies } from '../wiring/composition-root.ts';
import { ownersOf } from '../frames/connection-owners.ts';
import type { Dependencies, DependencyProvider } from '../wiring/dependencies.ts';
import { nameSchema, roomSchema } from '../frames/inbound-frame.ts';
import { loggerOf } from '../wiring/logger-of.ts';
import { observability } from '../middlewares/observability.ts';
import { connectionIdOf, isEventOfType, type WebSocketEvent, type WebSocketResult } from '../frames/websocket-event.ts';
import '../frames/zod.ts';

/** Why a handshake was refused: the `Reason` of the HandshakesRefused metric. */
type RefusalReason =
  'origin_not_allowed' | 'invalid_query' | 'not_authenticated' | 'user_at_cap' | 'ip_at_cap' | 'over_budget';

/** A refused handshake; its status code and message are all the client learns. */
interface Refusal {
  readonly statusCode: 400 | 401 | 403 | 429;
  readonly reason: RefusalReason;
  readonly message: string;
}

const handshakeSchema = z.object({
  queryStringParameters: z.pipe(
    z.nullish(z.object({ room: z.optional(roomSchema), name: z.optional(nameSchema) })),
    z.transform((query) => query ?? {}),
  ),
});

/** What the $connect authorizer verified, as API Gateway passes it on. */
const identitySchema = z.object({
  requestContext: z.object({
    // A user id longer than the caps can count is no verified identity (the authorizer refuses such a token).
    authorizer: z.object({
      userId: z.string().check(z.minLength(1), z.maxLength(MAX_USER_ID_LENGTH)),
      name: z.string().check(z.minLength(1)),
    }),
  }),
});

const originSchema = z.object({ headers: z.optional(z.nullable(z.record(z.string(), z.optional(z.string())))) });

function handshakeOf(event: unknown): { room?: string; name?: string } | Refusal {
  const parsed = handshakeSchema.safeParse(event);
  if (parsed.success) return parsed.data.queryStringParameters;
  const issue = parsed.error.issues[0];
  const message = `${issue?.path.at(-1)?.toString() ?? 'query'}: ${issue?.message ?? 'invalid'}`;
  return { statusCode: 400, reason: 'invalid_query', message };
}

function originOf(event: unknown): string | undefined {
  const parsed = originSchema.safeParse(event);
  const headers = parsed.success ? (parsed.data.headers ?? {}) : {};
  // Header names arrive in the client's case through API Gateway, lower-cased through the emulator.
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'origin');
  return entry?.[1];
}

/**
 * Answers a refused handshake. Anyone can send handshakes that are refused, so each is a line of information and a
 * count, not an error: the error log and its alarms are kept for the server's own failures.
 */
function refused({ logger, metrics }: Dependencies, refusal: Refusal): WebSocketResult {
  metrics.count('HandshakesRefused', 1, { Reason: refusal.reason });
  logger.info('handshake refused', { status: refusal.statusCode, reason: refusal.reason, detail: refusal.message });
  return { statusCode: refusal.statusCode, headers: { 'Content-Type': 'text/plain' }, body: refusal.message };
}

/**
 * Builds the `$connect` handler: checks the browser's Origin against the allow-list (403), takes the user
 * and name the authorizer verified (401 if the chat requires them and they are missing), and records the
 * connection in the room (`?room=`, default lobby) under its name (`?name=` when unauthenticated), unless
 * its user or its address holds as many connections as its cap allows, or has spent its budget of connects and
 * frames (429). A bad room or name refuses the handshake with 400. Refusals are logged as information and counted
 * (HandshakesRefused); any other failure answers 500 and is logged as an error.
 */
export function createConnectHandler(deps: DependencyProvider) {
  return middy<WebSocketEvent, WebSocketResult>()
    .use(observability(deps))
    .use(httpErrorHandler({ logger: (error: unknown) => loggerOf(deps).error('connect failed', { error: error }) }))
    .handler(async (event) => {
      const dependencies = deps();
      const { service, authMode, allowedOrigins, metrics, logger } = dependencies;
      if (!isEventOfType(event, 'CONNECT')) {
        // API Gateway routes no frame here; only a local emulator does. The function's role may not post to
        // @connections, so there is no error frame to send: the frame is refused and nothing is changed.
        logger.info('a frame reached the $connect route: refused', { connectionId: connectionIdOf(event) });
        return { statusCode: 400 };
      }
      const connectionId = connectionIdOf(event);
      const origin = originOf(event);
      // Clients other than browsers send no Origin and could forge one anyway; the check stops other web pages.
      if (allowedOrigins.length > 0 && origin !== undefined && !allowedOrigins.includes(origin)) {
        return refused(dependencies, { statusCode: 403, reason: 'origin_not_allowed', message: 'origin not allowed' });
      }
      const handshake = handshakeOf(event);
      if ('statusCode' in handshake) return refused(dependencies, handshake);
      const identity = identitySchema.safeParse(event);
      if (authMode === 'jwt' && !identity.success) {
        return refused(dependencies, { statusCode: 401, reason: 'not_authenticated', message: 'not authenticated' });
      }
      const verified = identity.success ? identity.data.requestContext.authorizer : undefined;
      const { sourceIp } = ownersOf(event);
      const result = await service.connect(connectionId, {
        ...(handshake.room !== undefined ? { room: handshake.room } : {}),
        ...(verified !== undefined
          ? { name: verified.name, userId: verified.userId }
          : handshake.name !== undefined
            ? { name: handshake.name }
            : {}),
        ...(sourceIp !== undefined ? { sourceIp } : {}),
      });
      if (result.outcome === 'user_at_cap') {
        return refused(dependencies, {
          statusCode: 429,
          reason: 'user_at_cap',
          message: 'too many connections for this user',
        });
      }
      if (result.outcome === 'ip_at_cap') {
        return refused(dependencies, {
          statusCode: 429,
          reason: 'ip_at_cap',
          message: 'too many connections from this address',
        });
      }
      if (result.outcome === 'over_budget') {
        return refused(dependencies, {
          statusCode: 429,
          reason: 'over_budget',
          message: 'too many connects and frames from this user or address lately',
        });
      }
      if (result.outcome === 'connected' && result.unannounced !== undefined) {
        logger.error('could not announce the join', { connectionId, error: result.unannounced });
      }
      if (result.outcome === 'connected' && result.uncharged !== undefined) {
        logger.error("could not charge the connect to its owner's budget", { connectionId, error: result.uncharged });
      }
      metrics.count('Connections');
      return { statusCode: 200 };
    });
}

/** The `$connect` route's Lambda handler. */
export const handler = createConnectHandler(dependencies);
