import type { APIGatewayProxyResultV2, APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import './zod.ts';

/** The event every WebSocket route receives. */
export type WebSocketEvent = APIGatewayProxyWebsocketEventV2;
export type WebSocketResult = APIGatewayProxyResultV2;

const eventSchema = z.object({
  requestContext: z.object({ connectionId: z.string().check(z.minLength(1), z.maxLength(128)) }),
});

/** The calling connection's id; throws when API Gateway sent an event without one. */
export function connectionIdOf(event: unknown): string {
  return eventSchema.parse(event).requestContext.connectionId;
}

const eventTypeSchema = z.object({
  requestContext: z.object({ eventType: z.string() }),
  body: z.optional(z.unknown()),
});

/**
 * Whether the event is the handshake or the close a `$connect` or `$disconnect` handler is for, and not a
 * client's frame that names `$connect` or `$disconnect` as its action: API Gateway never routes such a frame
 * there, but the local emulator does, and calls it a connect or disconnect event. A frame has a body.
 */
export function isEventOfType(event: unknown, eventType: 'CONNECT' | 'DISCONNECT'): boolean {
  const parsed = eventTypeSchema.safeParse(event);
  if (!parsed.success) return false;
  const { body, requestContext } = parsed.data;
  const isFrame = body !== undefined && body !== null && body !== '';
  return requestContext.eventType === eventType && !isFrame;
}

/** The calling connection's id, or `undefined` when the event has none. */
export function maybeConnectionIdOf(event: unknown): string | undefined {
  const parsed = eventSchema.safeParse(event);
  return parsed.success ? parsed.data.requestContext.connectionId : undefined;
}
