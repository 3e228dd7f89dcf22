import { JoseTokenVerifier, type TokenKeys } from '../../adapters/jose-token-verifier.ts';
import { PowertoolsLogger } from '../../adapters/powertools-logger.ts';
import { PowertoolsChatMetrics } from '../../adapters/powertools-metrics.ts';
import { loadAuthConfig } from './config.ts';
import type { AuthorizerDependencies } from './dependencies.ts';

// The authorizer's own root: it imports no AWS SDK client, so none is bundled into the authorizer.

/** Builds the $connect authorizer's verifier, logger and metrics from its AUTH_* settings; it reads no data. */
export function buildAuthorizerDependencies(env: Record<string, string | undefined>): AuthorizerDependencies {
  const { keys, ...claims } = loadAuthConfig(env);
  // The config checked the key set's shape; jose checks each key when it is used.
  return {
    verifier: new JoseTokenVerifier({ keys: keys as TokenKeys, ...claims }),
    logger: new PowertoolsLogger(),
    metrics: new PowertoolsChatMetrics(),
  };
}

let builtAuthorizer: AuthorizerDependencies | undefined;

/** The authorizer container's dependencies, built on first use. */
export function authorizerDependencies(): AuthorizerDependencies {
  builtAuthorizer ??= buildAuthorizerDependencies(process.env);
  return builtAuthorizer;
}
