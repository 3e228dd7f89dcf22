import * as z from 'zod/mini';
import type { ConnectionOwners } from '../../domain/connection-quota.ts';
import { MAX_USER_ID_LENGTH } from '../../domain/token-verifier.ts';
import './zod.ts';

const ownersSchema = z.object({
  requestContext: z.object({
    // The $connect authorizer's context, which API Gateway passes on to every route of the connection.
    authorizer: z.optional(
      z.nullable(z.object({ userId: z.optional(z.string().check(z.minLength(1), z.maxLength(MAX_USER_ID_LENGTH))) })),
    ),
    // API Gateway names the client's address on every route; the emulator only on unauthenticated ones.
    identity: z.optional(
      z.nullable(z.object({ sourceIp: z.optional(z.nullable(z.string().check(z.minLength(1), z.maxLength(64)))) })),
    ),
  }),
});

/** Whom the event's connection counts against: its verified user and its address, as far as the event tells. */
export function ownersOf(event: unknown): ConnectionOwners {
  const parsed = ownersSchema.safeParse(event);
  if (!parsed.success) return {};
  const { authorizer, identity } = parsed.data.requestContext;
  const userId = authorizer?.userId;
  const sourceIp = identity?.sourceIp;
  return {
    ...(userId !== undefined ? { userId } : {}),
    ...(sourceIp !== undefined && sourceIp !== null ? { sourceIp } : {}),
  };
}
