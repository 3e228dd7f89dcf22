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

/** The calling connection's id, or `undefined` when the event has none. */
export function maybeConnectionIdOf(event: unknown): string | undefined {
  const parsed = eventSchema.safeParse(event);
  return parsed.success ? parsed.data.requestContext.connectionId : undefined;
}
