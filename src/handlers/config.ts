import { z } from 'zod';

const positiveInt = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

const configSchema = z
  .object({
    CONNECTIONS_TABLE: z.string().min(3, 'the DynamoDB table that stores connections'),
    WEBSOCKET_MANAGEMENT_ENDPOINT: z.url({ protocol: /^https?$/, error: 'an http(s) URL of the @connections API' }),
    CHAT_MODE: z.enum(['broadcast', 'echo']).default('broadcast'),
    BROADCAST_CONCURRENCY: positiveInt(50, 1000),
    SEND_TIMEOUT_MS: positiveInt(3000, 28_000),
    SEND_MAX_ATTEMPTS: positiveInt(3, 10),
    // API Gateway refuses frames over 32 KB; staying well under it leaves room for the outbound envelope.
    MAX_FRAME_BYTES: positiveInt(16_384, 32_768),
    MAX_TEXT_BYTES: positiveInt(4_096, 32_768),
  })
  .refine((c) => c.MAX_TEXT_BYTES < c.MAX_FRAME_BYTES, {
    message: 'MAX_TEXT_BYTES must be smaller than MAX_FRAME_BYTES',
    path: ['MAX_TEXT_BYTES'],
  })
  .transform((c) => ({
    connectionsTable: c.CONNECTIONS_TABLE,
    managementEndpoint: c.WEBSOCKET_MANAGEMENT_ENDPOINT,
    chatMode: c.CHAT_MODE,
    broadcastConcurrency: c.BROADCAST_CONCURRENCY,
    sendTimeoutMs: c.SEND_TIMEOUT_MS,
    sendMaxAttempts: c.SEND_MAX_ATTEMPTS,
    limits: { maxFrameBytes: c.MAX_FRAME_BYTES, maxTextBytes: c.MAX_TEXT_BYTES },
  }));

/** The handlers' settings, checked once per container. */
export type Config = z.infer<typeof configSchema>;

/** The one configuration error: it names every bad setting, so a cold start fails with all of them at once. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads and checks the settings; throws a {@link ConfigError} naming every missing or malformed one. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = configSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`);
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`, { cause: parsed.error });
}
