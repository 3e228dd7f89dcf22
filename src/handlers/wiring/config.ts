import * as z from 'zod/mini';
import '../frames/zod.ts';

// An empty variable means "not set", as it does in a shell.
const unsetIfEmpty = (value: unknown): unknown => (value === '' ? undefined : value);

const positiveInt = (fallback: number, max: number) =>
  z.pipe(
    z.transform(unsetIfEmpty),
    z._default(z.pipe(z.coerce.number(), z.int().check(z.gte(1), z.lte(max))), fallback),
  );

/** A count where 0 means "no limit". */
const countOrZero = (fallback: number, max: number) =>
  z.pipe(
    z.transform(unsetIfEmpty),
    z._default(z.pipe(z.coerce.number(), z.int().check(z.gte(0), z.lte(max))), fallback),
  );

const DEFAULT_MAX_FRAME_BYTES = 16_384;
const DEFAULT_MAX_TEXT_BYTES = 4_096;

const configSchema = z.pipe(
  z.object({
    CHAT_TABLE: z.string().check(z.minLength(3, 'the DynamoDB table that stores connections and history')),
    WEBSOCKET_MANAGEMENT_ENDPOINT: z.url({ protocol: /^https?$/, error: 'an http(s) URL of the @connections API' }),
    // The fan-out worker's queues, one per kind of job: a big room's shard jobs, and rooms' presence flushes.
    FANOUT_QUEUE_URL: z.url({
      protocol: /^https?$/,
      error: "an http(s) URL of the fan-out worker's SQS queue of shard jobs",
    }),
    PRESENCE_QUEUE_URL: z.url({
      protocol: /^https?$/,
      error: "an http(s) URL of the fan-out worker's SQS queue of presence flushes",
    }),
    // A local queue's endpoint (the emulator's); unset on AWS, where the SDK resolves the region's own.
    SQS_ENDPOINT: z.pipe(
      z.transform(unsetIfEmpty),
      z.optional(z.url({ protocol: /^https?$/, error: 'an http(s) URL of an SQS endpoint' })),
    ),
    CHAT_MODE: z.pipe(z.transform(unsetIfEmpty), z._default(z.enum(['broadcast', 'echo']), 'broadcast')),
    AUTH_MODE: z.pipe(z.transform(unsetIfEmpty), z._default(z.enum(['none', 'jwt']), 'none')),
    // Comma-separated origins a browser handshake may come from; empty allows any.
    ALLOWED_ORIGINS: z.pipe(z.transform(unsetIfEmpty), z._default(z.string(), '')),
    // Also the client's sockets (maxSockets). A fan-out is CPU-bound (about 265 µs per delivery, bench/messenger.ts),
    // so with 20 ms round trips some 80 sends in flight keep a vCPU busy; 200 covers the slow tail (p99 of 100 ms and
    // more) at no CPU cost: the CPU per delivery measured the same from 10 to 200 in flight.
    BROADCAST_CONCURRENCY: positiveInt(200, 1000),
    SEND_TIMEOUT_MS: positiveInt(3000, 28_000),
    SEND_MAX_ATTEMPTS: positiveInt(3, 10),
    HISTORY_RETENTION_SECONDS: positiveInt(7 * 86_400, 365 * 86_400),
    RATE_LIMIT_FRAMES: positiveInt(30, 100_000),
    RATE_LIMIT_WINDOW_SECONDS: positiveInt(10, 3600),
    // What the connections of one owner (the user with jwt, else the address) may send together per window, refilled
    // evenly over it: at most twice this over any window, however the owner reconnects. 0 budgets no owner.
    OWNER_RATE_LIMIT_FRAMES: countOrZero(30, 100_000),
    // What one caller of the publish API (an IAM principal) may ask per window, all routes together, refilled evenly
    // over it: at most twice this over any window. 0 budgets no caller.
    PUBLISH_RATE_LIMIT_REQUESTS: countOrZero(60, 100_000),
    // What a connect costs its owner's budget, in units of the lightest frame (a hello costs 10).
    CONNECT_WEIGHT: positiveInt(5, 100_000),
    // API Gateway refuses frames over 32 KB; staying well under it leaves room for the outbound envelope.
    MAX_FRAME_BYTES: positiveInt(DEFAULT_MAX_FRAME_BYTES, 32_768),
    // JSON escaping can grow text up to six times; 16 KiB of text stays under PostToConnection's 128 KB.
    MAX_TEXT_BYTES: positiveInt(DEFAULT_MAX_TEXT_BYTES, 16_384),
    // Live connections per user (token sub) and per source address; 0 caps nothing. Each owner's slots are
    // one item, written whole on every claim, so a cap stays small enough to keep that item a few KB.
    // A room announces joins, leaves and renames at most once per window, in one frame: a storm of k changes
    // costs one delivery per member and window, not k. 0 announces each change at once (small rooms only).
    PRESENCE_WINDOW_MS: countOrZero(1000, 60_000),
    // Above this many members a room's presence frames count changes instead of listing every one, and
    // clients keep a member count rather than a roster (Pusher caps presence channels at 100 members).
    BIG_ROOM_SIZE: positiveInt(100, 1_000_000),
    // A room of up to this many members is fanned out by the invocation that sends to it; a bigger one by shard
    // jobs of this many recipients on the fan-out queue. At about 265 µs of CPU per delivery (bench/messenger.ts)
    // a shard of 5,000 is about 1.3 s of the worker's vCPU, far inside its timeout, and the sender's own
    // invocation stays as short; a million members are then 200 shard jobs.
    FANOUT_SHARD_SIZE: positiveInt(5000, 100_000),
    // Shards of each room's index (the room index's partition key is room#<room>#<shard>): a room's joins and
    // listings spread over this many partitions of the index, each good for 1,000 writes and 3,000 reads a second.
    ROOM_SHARDS: positiveInt(8, 1000),
    // A room keeps its whole index in shard 0 (one Query lists it) until it counts this many members, then grows
    // into ROOM_SHARDS; 0 grows every room at its first member.
    ROOM_GROW_AT: countOrZero(1000, 1_000_000),
    MAX_CONNECTIONS_PER_USER: countOrZero(10, 1000),
    MAX_CONNECTIONS_PER_IP: countOrZero(100, 1000),
  }),
  z.transform((c) => ({
    chatTable: c.CHAT_TABLE,
    managementEndpoint: c.WEBSOCKET_MANAGEMENT_ENDPOINT,
    fanOutQueueUrls: { shard: c.FANOUT_QUEUE_URL, presence: c.PRESENCE_QUEUE_URL },
    ...(c.SQS_ENDPOINT !== undefined ? { sqsEndpoint: c.SQS_ENDPOINT } : {}),
    chatMode: c.CHAT_MODE,
    authMode: c.AUTH_MODE,
    allowedOrigins: c.ALLOWED_ORIGINS.split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== ''),
    broadcastConcurrency: c.BROADCAST_CONCURRENCY,
    sendTimeoutMs: c.SEND_TIMEOUT_MS,
    sendMaxAttempts: c.SEND_MAX_ATTEMPTS,
    historyRetentionSeconds: c.HISTORY_RETENTION_SECONDS,
    rateLimit: { frames: c.RATE_LIMIT_FRAMES, windowSeconds: c.RATE_LIMIT_WINDOW_SECONDS },
    ownerLimit: { frames: c.OWNER_RATE_LIMIT_FRAMES, windowSeconds: c.RATE_LIMIT_WINDOW_SECONDS },
    publishLimit: { frames: c.PUBLISH_RATE_LIMIT_REQUESTS, windowSeconds: c.RATE_LIMIT_WINDOW_SECONDS },
    connectWeight: c.CONNECT_WEIGHT,
    limits: { maxFrameBytes: c.MAX_FRAME_BYTES, maxTextBytes: c.MAX_TEXT_BYTES },
    connectionCaps: { perUser: c.MAX_CONNECTIONS_PER_USER, perIp: c.MAX_CONNECTIONS_PER_IP },
    presenceWindowMs: c.PRESENCE_WINDOW_MS,
    bigRoomSize: c.BIG_ROOM_SIZE,
    fanOutShardSize: c.FANOUT_SHARD_SIZE,
    roomShards: c.ROOM_SHARDS,
    roomGrowAt: c.ROOM_GROW_AT,
  })),
);

/** The handlers' settings, checked once per container. */
export type Config = z.output<typeof configSchema>;

/** The one configuration error: it names every bad setting, so a cold start fails with all of them at once. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads and checks the settings; throws a {@link ConfigError} naming every missing or malformed one. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = configSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`);
  // Checked apart from the schema so that it is reported together with any other bad setting.
  const frame = Number(unsetIfEmpty(env['MAX_FRAME_BYTES']) ?? DEFAULT_MAX_FRAME_BYTES);
  const text = Number(unsetIfEmpty(env['MAX_TEXT_BYTES']) ?? DEFAULT_MAX_TEXT_BYTES);
  if (Number.isFinite(frame) && Number.isFinite(text) && text >= frame) {
    problems.push('MAX_TEXT_BYTES: must be smaller than MAX_FRAME_BYTES');
  }
  if (parsed.success && problems.length === 0) return parsed.data;
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`, { cause: parsed.error });
}

const optionalSetting = z.pipe(z.transform(unsetIfEmpty), z.optional(z.string()));

/** The fewest different characters an HMAC secret may hold; a hex secret (16 symbols) of 32 characters has about 14. */
const MIN_SECRET_CHARACTERS = 10;

/** What makes an HMAC secret guessable, or `undefined` for one that is long and varied enough. */
function weakSecret(secret: string): string | undefined {
  const bytes = new TextEncoder().encode(secret).byteLength;
  if (bytes < 32) return `${bytes} bytes; at least 32 are needed`;
  if (new Set(secret).size < MIN_SECRET_CHARACTERS) {
    return `only ${new Set(secret).size} different characters; at least ${MIN_SECRET_CHARACTERS} are needed`;
  }
  if (/^([\s\S]+?)\1+$/u.test(secret)) return 'a shorter pattern repeated';
  return undefined;
}

const authConfigSchema = z.object({
  AUTH_JWT_SECRET: z.pipe(
    z.transform(unsetIfEmpty),
    z.optional(
      z.string().check(
        z.superRefine((secret, context) => {
          const weakness = weakSecret(secret);
          if (weakness !== undefined) {
            context.addIssue({
              code: 'custom',
              input: secret,
              message: `too weak (${weakness}): use a random secret, e.g. openssl rand -base64 32`,
            });
          }
        }),
      ),
    ),
  ),
  AUTH_JWKS: optionalSetting,
  AUTH_JWKS_URL: z.pipe(z.transform(unsetIfEmpty), z.optional(z.url({ protocol: /^https?$/ }))),
  AUTH_ISSUER: optionalSetting,
  AUTH_AUDIENCE: optionalSetting,
  AUTH_CLIENT_ID: optionalSetting,
  // Cognito ID tokens last at most a day by default; a token that claims to live longer is refused.
  AUTH_MAX_TOKEN_AGE_SECONDS: positiveInt(86_400, 30 * 86_400),
  AUTH_TOKEN_USE: z.pipe(z.transform(unsetIfEmpty), z.optional(z.enum(['id', 'access']))),
});

/** Where the authorizer's keys come from: exactly one of a shared secret, an inline key set or a key set URL. */
export type AuthKeys =
  { readonly secret: string } | { readonly jwks: { readonly keys: readonly unknown[] } } | { readonly jwksUrl: string };

/** The authorizer's settings, checked once per container. */
export interface AuthConfig {
  readonly keys: AuthKeys;
  readonly issuer?: string;
  readonly audience?: string;
  readonly clientId?: string;
  /** The longest a token may live: its `exp` at most this far ahead, its `iat` at most this far back. */
  readonly maxTokenAgeSeconds: number;
  /** The `token_use` a token must carry (Cognito's `id` or `access`), when checked. */
  readonly tokenUse?: 'id' | 'access';
}

const COGNITO = /^https:\/\/cognito-idp\.[a-z0-9-]+\.amazonaws\.com\//;

/**
 * The `token_use` to require of a Cognito pool's tokens (`undefined` for another issuer): an ID token names its app
 * client in `aud`, an access token in `client_id`, so the setting that names the client tells which kind is meant.
 */
function cognitoTokenUse(settings: {
  AUTH_ISSUER?: string | undefined;
  AUTH_JWKS_URL?: string | undefined;
  AUTH_AUDIENCE?: string | undefined;
  AUTH_CLIENT_ID?: string | undefined;
  AUTH_TOKEN_USE?: 'id' | 'access' | undefined;
}): 'id' | 'access' | undefined {
  const { AUTH_ISSUER, AUTH_JWKS_URL, AUTH_AUDIENCE, AUTH_CLIENT_ID, AUTH_TOKEN_USE } = settings;
  const cognito = [AUTH_ISSUER, AUTH_JWKS_URL].some((url) => url !== undefined && COGNITO.test(url));
  if (!cognito) return AUTH_TOKEN_USE;
  if (AUTH_AUDIENCE !== undefined && AUTH_CLIENT_ID !== undefined) {
    throw new ConfigError(
      'invalid configuration: a Cognito ID token carries its app client in aud (AUTH_AUDIENCE), an access token in ' +
        'client_id (AUTH_CLIENT_ID), never both: set one of them',
    );
  }
  const implied = AUTH_AUDIENCE !== undefined ? 'id' : AUTH_CLIENT_ID !== undefined ? 'access' : undefined;
  if (AUTH_TOKEN_USE !== undefined && implied !== undefined && AUTH_TOKEN_USE !== implied) {
    throw new ConfigError(
      `invalid configuration: AUTH_TOKEN_USE: ${AUTH_TOKEN_USE} tokens of Cognito carry their app client in ` +
        `${AUTH_TOKEN_USE === 'id' ? 'aud: set AUTH_AUDIENCE, not AUTH_CLIENT_ID' : 'client_id: set AUTH_CLIENT_ID, not AUTH_AUDIENCE'}`,
    );
  }
  return AUTH_TOKEN_USE ?? implied ?? 'id';
}

/** Reads and checks the AUTH_* settings; throws a {@link ConfigError} naming what is wrong. */
export function loadAuthConfig(env: Record<string, string | undefined>): AuthConfig {
  const parsed = authConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const { AUTH_JWT_SECRET, AUTH_JWKS, AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE, AUTH_CLIENT_ID } = parsed.data;
  const sources: AuthKeys[] = [];
  if (AUTH_JWT_SECRET !== undefined) sources.push({ secret: AUTH_JWT_SECRET });
  if (AUTH_JWKS !== undefined) {
    let jwks: unknown;
    try {
      jwks = JSON.parse(AUTH_JWKS);
    } catch (error) {
      throw new ConfigError('invalid configuration: AUTH_JWKS: not JSON', { cause: error });
    }
    if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) {
      throw new ConfigError('invalid configuration: AUTH_JWKS: not a key set ({"keys":[...]})');
    }
    sources.push({ jwks: jwks as { keys: unknown[] } });
  }
  if (AUTH_JWKS_URL !== undefined) sources.push({ jwksUrl: AUTH_JWKS_URL });
  const [keys, ...others] = sources;
  // serverless.yml gives only the local stage a secret, so a deployed authorizer without a key set ends here.
  if (keys === undefined) {
    throw new ConfigError(
      "invalid configuration: no key to verify tokens with: set AUTH_JWKS_URL (the issuer's key set URL) or AUTH_JWKS " +
        '(a key set of public keys); AUTH_JWT_SECRET is for the local stage only',
    );
  }
  if (others.length > 0) {
    throw new ConfigError('invalid configuration: set exactly one of AUTH_JWT_SECRET, AUTH_JWKS, AUTH_JWKS_URL');
  }
  // A key set signs the tokens of every application of its issuer (every app client of a Cognito pool, every
  // tenant of a shared provider): without one of these, any of them would open a connection here.
  if (AUTH_ISSUER === undefined && AUTH_AUDIENCE === undefined && AUTH_CLIENT_ID === undefined) {
    throw new ConfigError(
      'invalid configuration: tokens would be accepted from any application the key set signs for: set at least one ' +
        'of AUTH_AUDIENCE (the aud tokens must carry), AUTH_ISSUER (their iss) or AUTH_CLIENT_ID (their client_id)',
    );
  }
  const tokenUse = cognitoTokenUse(parsed.data);
  return {
    keys,
    ...(AUTH_ISSUER !== undefined ? { issuer: AUTH_ISSUER } : {}),
    ...(AUTH_AUDIENCE !== undefined ? { audience: AUTH_AUDIENCE } : {}),
    ...(AUTH_CLIENT_ID !== undefined ? { clientId: AUTH_CLIENT_ID } : {}),
    maxTokenAgeSeconds: parsed.data.AUTH_MAX_TOKEN_AGE_SECONDS,
    ...(tokenUse !== undefined ? { tokenUse } : {}),
  };
}
