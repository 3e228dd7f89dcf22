import type { APIGatewayProxyResultV2, APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { z } from 'zod';

/** The event every WebSocket route receives. */
export type WebSocketEvent = APIGatewayProxyWebsocketEventV2;
export type WebSocketResult = APIGatewayProxyResultV2;

const eventSchema = z.object({
  requestContext: z.object({ connectionId: z.string().min(1).max(128) }),
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
