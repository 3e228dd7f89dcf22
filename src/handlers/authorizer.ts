import middy from '@middy/core';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { type Identity, JoseTokenVerifier, KeySetUnavailableError, type TokenKeys } from '../adapters/jose-token-verifier.ts';
import { ConfigError } from './config.ts';
import { createPowertoolsLogger, type Logger } from './logger.ts';
import './zod.ts';

/**
 * Verifies a token and says who it belongs to; `undefined` when it does not verify. Throws when it cannot
 * tell, e.g. {@link KeySetUnavailableError}.
 */
export type VerifyToken = (token: string) => Promise<Identity | undefined>;

const unsetIfEmpty = (value: unknown): unknown => (value === '' ? undefined : value);
const optionalSetting = z.pipe(z.transform(unsetIfEmpty), z.optional(z.string()));

const authConfigSchema = z.object({
  AUTH_JWT_SECRET: z.pipe(z.transform(unsetIfEmpty), z.optional(z.string().check(z.minLength(32, 'at least 32 characters')))),
  AUTH_JWKS: optionalSetting,
  AUTH_JWKS_URL: z.pipe(z.transform(unsetIfEmpty), z.optional(z.url({ protocol: /^https?$/ }))),
  AUTH_ISSUER: optionalSetting,
  AUTH_AUDIENCE: optionalSetting,
  AUTH_CLIENT_ID: optionalSetting,
});

/** Builds the verifier from AUTH_* settings: exactly one of a secret, an inline JWKS or a JWKS URL. */
export function verifierFromEnv(env: Record<string, string | undefined>): VerifyToken {
  const parsed = authConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const { AUTH_JWT_SECRET, AUTH_JWKS, AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE, AUTH_CLIENT_ID } = parsed.data;
  const sources: TokenKeys[] = [];
  if (AUTH_JWT_SECRET !== undefined) sources.push({ secret: AUTH_JWT_SECRET });
  if (AUTH_JWKS !== undefined) {
    try {
      sources.push({ jwks: JSON.parse(AUTH_JWKS) as { keys: [] } });
    } catch (error) {
      throw new ConfigError('invalid configuration: AUTH_JWKS: not JSON', { cause: error });
    }
  }
  if (AUTH_JWKS_URL !== undefined) sources.push({ jwksUrl: AUTH_JWKS_URL });
  const [keys, ...others] = sources;
  if (keys === undefined || others.length > 0) {
    throw new ConfigError('invalid configuration: set exactly one of AUTH_JWT_SECRET, AUTH_JWKS, AUTH_JWKS_URL');
  }
  const verifier = new JoseTokenVerifier({
    keys,
    ...(AUTH_ISSUER !== undefined ? { issuer: AUTH_ISSUER } : {}),
    ...(AUTH_AUDIENCE !== undefined ? { audience: AUTH_AUDIENCE } : {}),
    ...(AUTH_CLIENT_ID !== undefined ? { clientId: AUTH_CLIENT_ID } : {}),
  });
  return (token) => verifier.verify(token);
}

const tokenSchema = z.object({
  queryStringParameters: z.object({ token: z.string().check(z.minLength(1), z.maxLength(8192)) }),
});

function policy(principalId: string, effect: 'Allow' | 'Deny', resource: string): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
  };
}

// Built on first use, so that importing the handler has no side effects.
let log: Logger | undefined;

function defaultLogger(): Logger {
  log ??= createPowertoolsLogger();
  return log;
}

/**
 * Builds the `$connect` REQUEST authorizer: browsers cannot set headers on a WebSocket handshake, so the
 * token comes from `?token=`. A handshake without a token is refused by API Gateway itself (401), since
 * the token is the authorizer's identity source; a malformed, expired or wrongly signed one gets a Deny
 * policy (403). A good one allows this connection and hands its user id and name to every later event.
 */
export function createAuthorizer(verifier: () => VerifyToken, logger: () => Logger = defaultLogger) {
  return middy<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>().handler(async (event) => {
    // A Deny policy rather than a thrown "Unauthorized": both refuse the handshake on AWS, and only the
    // policy is understood by serverless-offline, which answers 500 to a rejected promise.
    const parsed = tokenSchema.safeParse(event);
    if (!parsed.success) return policy('anonymous', 'Deny', event.methodArn);
    let identity: Identity | undefined;
    try {
      identity = await verifier()(parsed.data.queryStringParameters.token);
    } catch (error) {
      // An unreachable key set or a configuration error must not read as a bad token in the logs; the
      // client is refused all the same.
      const what = error instanceof KeySetUnavailableError ? 'could not fetch the key set' : 'authorizer failed';
      logger().error(what, { error: error });
      return policy('anonymous', 'Deny', event.methodArn);
    }
    if (identity === undefined) return policy('anonymous', 'Deny', event.methodArn);
    return { ...policy(identity.userId, 'Allow', event.methodArn), context: { userId: identity.userId, name: identity.name } };
  });
}

let built: VerifyToken | undefined;

/** The `$connect` authorizer's Lambda handler; it reads no data, only its AUTH_* settings. */
export const handler = createAuthorizer(() => (built ??= verifierFromEnv(process.env)));
