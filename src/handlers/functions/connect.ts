import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import * as z from 'zod/mini';
import { dependencies } from '../wiring/composition-root.ts';
import { ownersOf } from '../frames/connection-owners.ts';
import type { DependencyProvider } from '../wiring/dependencies.ts';
import { nameSchema, roomSchema } from '../frames/inbound-frame.ts';
import { loggerOf } from '../wiring/logger-of.ts';
import { observability } from '../middlewares/observability.ts';
import { connectionIdOf, isEventOfType, type WebSocketEvent, type WebSocketResult } from '../frames/websocket-event.ts';
import '../frames/zod.ts';

/** A refused handshake; its status code (400, 401, 403, 429) is all the client learns. */
class HandshakeRefusedError extends Error {
  override readonly name = 'HandshakeRefusedError';
  readonly statusCode: number;
  readonly expose = true;

  constructor(statusCode: number, message: string) {
    super(message);
    this.statusCode = statusCode;
  }
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
    authorizer: z.object({ userId: z.string().check(z.minLength(1)), name: z.string().check(z.minLength(1)) }),
  }),
});

const originSchema = z.object({ headers: z.optional(z.nullable(z.record(z.string(), z.optional(z.string())))) });

function handshakeOf(event: unknown): { room?: string; name?: string } {
  const parsed = handshakeSchema.safeParse(event);
  if (parsed.success) return parsed.data.queryStringParameters;
  const issue = parsed.error.issues[0];
  throw new HandshakeRefusedError(400, `${issue?.path.at(-1)?.toString() ?? 'query'}: ${issue?.message ?? 'invalid'}`);
}

function originOf(event: unknown): string | undefined {
  const parsed = originSchema.safeParse(event);
  const headers = parsed.success ? (parsed.data.headers ?? {}) : {};
  // Header names arrive in the client's case through API Gateway, lower-cased through the emulator.
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'origin');
  return entry?.[1];
}

/**
 * Builds the `$connect` handler: checks the browser's Origin against the allow-list (403), takes the user
 * and name the authorizer verified (401 if the chat requires them and they are missing), and records the
 * connection in the room (`?room=`, default lobby) under its name (`?name=` when unauthenticated), unless
 * its user or its address holds as many connections as its cap allows, or has spent its budget of connects and
 * frames (429). A bad room or name refuses the handshake with 400, any other failure with 500.
 */
export function createConnectHandler(deps: DependencyProvider) {
  return middy<WebSocketEvent, WebSocketResult>()
    .use(observability(deps))
    .use(httpErrorHandler({ logger: (error: unknown) => loggerOf(deps).error('connect failed', { error: error }) }))
    .handler(async (event) => {
      const { service, authMode, allowedOrigins, metrics, logger } = deps();
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
        throw new HandshakeRefusedError(403, 'origin not allowed');
      }
      const handshake = handshakeOf(event);
      const identity = identitySchema.safeParse(event);
      if (authMode === 'jwt' && !identity.success) throw new HandshakeRefusedError(401, 'not authenticated');
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
      if (result.outcome === 'user_at_cap') throw new HandshakeRefusedError(429, 'too many connections for this user');
      if (result.outcome === 'ip_at_cap')
        throw new HandshakeRefusedError(429, 'too many connections from this address');
      if (result.outcome === 'over_budget') {
        throw new HandshakeRefusedError(429, 'too many connects and frames from this user or address lately');
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
