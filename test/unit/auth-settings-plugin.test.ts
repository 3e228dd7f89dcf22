import { describe, expect, it } from '@jest/globals';
import AuthSettingsPlugin from '../../scripts/auth-settings-plugin.ts';

/** The plugin over a service whose resolved settings are these, as osls hands them to its hooks. */
function pluginFor(authMode: string, authorizerEnvironment: Record<string, unknown>): AuthSettingsPlugin {
  const functions: Record<string, { environment?: Record<string, unknown> }> = {
    authorizer: { environment: authorizerEnvironment },
    connect: {},
  };
  return new AuthSettingsPlugin({
    service: {
      provider: { environment: { AUTH_MODE: authMode, CHAT_TABLE: 'ws-chat-prod' } },
      getAllFunctions: () => Object.keys(functions),
      getFunction: (key) => functions[key] ?? {},
    },
  });
}

const KEY_SET_ONLY = { AUTH_JWT_SECRET: null, AUTH_JWKS: '', AUTH_JWKS_URL: 'https://issuer.example/jwks.json' };

describe('the packaging check of the authorizer settings', () => {
  it('refuses a jwt stage whose key set has neither audience, issuer nor client id, naming the settings', () => {
    const plugin = pluginFor('jwt', { ...KEY_SET_ONLY, AUTH_AUDIENCE: '', AUTH_ISSUER: '', AUTH_CLIENT_ID: '' });

    expect(() => plugin.hooks['before:package:initialize']?.()).toThrow(
      /authMode jwt: the authorizer's settings are refused \(.*set at least one of AUTH_AUDIENCE .*AUTH_ISSUER .*AUTH_CLIENT_ID/,
    );
  });

  it('refuses a jwt stage without a key set', () => {
    const plugin = pluginFor('jwt', { AUTH_JWT_SECRET: null, AUTH_JWKS_URL: '', AUTH_AUDIENCE: 'app-1' });

    expect(() => plugin.check()).toThrow(
      /authMode jwt: the authorizer's settings are refused \(no key to verify tokens with/,
    );
  });

  it('packages a jwt stage whose key set names an audience', () => {
    const plugin = pluginFor('jwt', { ...KEY_SET_ONLY, AUTH_AUDIENCE: 'app-1' });

    expect(() => plugin.check()).not.toThrow();
  });

  it('packages a stage without authentication whatever its AUTH_* settings', () => {
    const plugin = pluginFor('none', { AUTH_JWT_SECRET: null, AUTH_JWKS_URL: '' });

    expect(() => plugin.check()).not.toThrow();
  });
});
