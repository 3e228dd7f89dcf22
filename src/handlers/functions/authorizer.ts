import middy from '@middy/core';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { type Identity, KeySetUnavailableError } from '../../domain/token-verifier.ts';
import { authorizerDependencies } from '../wiring/authorizer-composition-root.ts';
import { loggerOf } from '../wiring/logger-of.ts';
import type { AuthorizerDependencies } from '../wiring/dependencies.ts';
import { observability } from '../middlewares/observability.ts';
import '../frames/zod.ts';

const tokenSchema = z.object({
  queryStringParameters: z.object({ token: z.string().check(z.minLength(1), z.maxLength(8192)) }),
});

function policy(principalId: string, effect: 'Allow' | 'Deny', resource: string): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }],
    },
  };
}

/**
 * Builds the `$connect` REQUEST authorizer: browsers cannot set headers on a WebSocket handshake, so the
 * token comes from `?token=`. A handshake without a token is refused by API Gateway itself (401), since
 * the token is the authorizer's identity source; a malformed, expired or wrongly signed one gets a Deny
 * policy (403), logged as information and counted (HandshakesRefused). A good one allows this connection and
 * hands its user id and name to every later event.
 */
export function createAuthorizer(deps: () => AuthorizerDependencies) {
  // Anyone can send bad tokens: a refusal is a line of information and a count, never an error.
  const refused = (reason: 'no_token' | 'invalid_token', methodArn: string): APIGatewayAuthorizerResult => {
    try {
      const { logger, metrics } = deps();
      metrics.count('HandshakesRefused', 1, { Reason: reason });
      logger.info('handshake refused', { status: 403, reason });
    } catch (error) {
      loggerOf(deps).error('authorizer failed', { error });
    }
    return policy('anonymous', 'Deny', methodArn);
  };
  return middy<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>()
    .use(observability<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>(deps))
    .handler(async (event) => {
      // A Deny policy rather than a thrown "Unauthorized": both refuse the handshake on AWS, and only the
      // policy is understood by serverless-offline, which answers 500 to a rejected promise.
      const parsed = tokenSchema.safeParse(event);
      if (!parsed.success) {
        const reason = event.queryStringParameters?.['token'] === undefined ? 'no_token' : 'invalid_token';
        return refused(reason, event.methodArn);
      }
      let identity: Identity | undefined;
      try {
        identity = await deps().verifier.verify(parsed.data.queryStringParameters.token);
      } catch (error) {
        // An unreachable key set or a configuration error must not read as a bad token in the logs; the
        // client is refused all the same.
        const what = error instanceof KeySetUnavailableError ? 'could not fetch the key set' : 'authorizer failed';
        loggerOf(deps).error(what, { error });
        return policy('anonymous', 'Deny', event.methodArn);
      }
      if (identity === undefined) return refused('invalid_token', event.methodArn);
      return {
        ...policy(identity.userId, 'Allow', event.methodArn),
        context: { userId: identity.userId, name: identity.name },
      };
    });
}

/** The `$connect` authorizer's Lambda handler; it reads no data, only its AUTH_* settings. */
export const handler = createAuthorizer(authorizerDependencies);
