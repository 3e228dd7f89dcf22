import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import { dependencies } from './composition-root.ts';
import type { DependencyProvider } from './dependencies.ts';
import { nameSchema, roomSchema } from './inbound-frame.ts';
import { describeError, loggerOf } from './logger.ts';
import { connectionIdOf, type WebSocketEvent, type WebSocketResult } from './websocket-event.ts';
import * as z from 'zod/mini';
import './zod.ts';

/** A handshake refused for the client's own mistake; the status code reaches the client. */
class HandshakeRefusedError extends Error {
  override readonly name = 'HandshakeRefusedError';
  readonly statusCode = 400;
  readonly expose = true;
}

const handshakeSchema = z.object({
  queryStringParameters: z.pipe(
    z.nullish(z.object({ room: z.optional(roomSchema), name: z.optional(nameSchema) })),
    z.transform((query) => query ?? {}),
  ),
});

function handshakeOf(event: unknown): { room?: string; name?: string } {
  const parsed = handshakeSchema.safeParse(event);
  if (parsed.success) return parsed.data.queryStringParameters;
  const issue = parsed.error.issues[0];
  throw new HandshakeRefusedError(`${issue?.path.at(-1)?.toString() ?? 'query'}: ${issue?.message ?? 'invalid'}`);
}

/**
 * Builds the `$connect` handler: records the connection in the room (`?room=`, default lobby) under the name
 * (`?name=`) the query string gives. A bad room or name refuses the handshake with 400, any other failure with 500.
 */
export function createConnectHandler(deps: DependencyProvider) {
  return middy<WebSocketEvent, WebSocketResult>()
    .use(httpErrorHandler({ logger: (error: unknown) => loggerOf(deps).error('connect failed', describeError(error)) }))
    .handler(async (event) => {
      const connectionId = connectionIdOf(event);
      const handshake = handshakeOf(event);
      await deps().service.connect(connectionId, handshake);
      return { statusCode: 200 };
    });
}

/** The `$connect` route's Lambda handler. */
export const handler = createConnectHandler(dependencies);
