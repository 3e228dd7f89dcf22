import { fromEnv, type FromEnvInit } from '@aws-sdk/credential-provider-env';

/**
 * The SDK's default credential chain as the handler bundles get it (serverless.yml aliases
 * `@aws-sdk/credential-provider-node` to this module): its first link only. Lambda puts the role's credentials in
 * the environment, so the rest of the chain (profile files, SSO, web identity through STS, processes, IMDS, with
 * their nested STS and SSO clients) never runs there; every client's runtime configuration imports it all the same.
 */
export const defaultProvider = (init?: FromEnvInit): ReturnType<typeof fromEnv> => fromEnv(init);
