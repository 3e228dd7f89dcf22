import { describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { JoseTokenVerifier } from '../../src/adapters/jose-token-verifier.ts';
import { KeySetUnavailableError, type TokenVerifier } from '../../src/domain/token-verifier.ts';
import { createAuthorizer } from '../../src/handlers/functions/authorizer.ts';
import { buildAuthorizerDependencies } from '../../src/handlers/wiring/authorizer-composition-root.ts';
import { ConfigError } from '../../src/handlers/wiring/config.ts';
import { RecordingLogger } from '../fakes/recording-logger.ts';
import { authorizerEvent, CONNECT_ROUTE_ARN, lambdaContext } from '../support/lambda-events.ts';

const SECRET = 'a-test-secret-that-is-at-least-32-characters-long';
const key = new TextEncoder().encode(SECRET);

function token(
  claims: Record<string, unknown>,
  options: { expiresIn?: string; secret?: Uint8Array } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '1h')
    .sign(options.secret ?? key);
}

const verifier = new JoseTokenVerifier({ keys: { secret: SECRET } });

describe('JoseTokenVerifier with an HMAC secret', () => {
  it('returns the subject and name of a good token', async () => {
    expect(await verifier.verify(await token({ sub: 'user-1', name: 'Ann' }))).toEqual({
      userId: 'user-1',
      name: 'Ann',
    });
  });

  it.each([
    ['mixes look-alike alphabets', '\u0410lice'],
    ['ends in "(you)"', 'Ann (you)'],
    ['shows as blank', '\u2800'],
  ])('passes over a name claim that %s for the next claim', async (_label, name) => {
    const identity = await verifier.verify(await token({ sub: 'user-1', name, preferred_username: 'ann.l' }));

    expect(identity?.name).toBe('ann.l');
  });

  it('falls back to preferred_username, then to the subject, for the name', async () => {
    const named = await verifier.verify(await token({ sub: 'user-1', preferred_username: 'ann.l' }));
    const bare = await verifier.verify(await token({ sub: 'user-2' }));
    expect([named?.name, bare?.name]).toEqual(['ann.l', 'user-2']);
  });

  it('strips control and direction characters from a name claim and keeps it to 32 characters', async () => {
    const identity = await verifier.verify(await token({ sub: 'u', name: `\u202eAnn\u0007${'x'.repeat(40)}` }));
    expect(identity?.name).toBe(`Ann${'x'.repeat(29)}`);
  });

  it.each([
    ['U+061C ARABIC LETTER MARK (Bidi_Control)', '\u061c'],
    ['U+200B ZERO WIDTH SPACE (Default_Ignorable_Code_Point)', '\u200b'],
    ['U+200D ZERO WIDTH JOINER (Default_Ignorable_Code_Point)', '\u200d'],
    ['U+2060 WORD JOINER (Default_Ignorable_Code_Point)', '\u2060'],
    ['U+3164 HANGUL FILLER (Default_Ignorable_Code_Point)', '\u3164'],
    ['U+FE0F VARIATION SELECTOR-16 (Default_Ignorable_Code_Point)', '\ufe0f'],
    ['U+E0041 TAG LATIN CAPITAL LETTER A (a tag character)', '\u{e0041}'],
    ['U+2028 LINE SEPARATOR (Zl)', '\u2028'],
    ['U+2029 PARAGRAPH SEPARATOR (Zp)', '\u2029'],
  ])('strips %s from a name claim', async (_label, invisible) => {
    const identity = await verifier.verify(await token({ sub: 'u', name: `Ann${invisible}Lee` }));

    expect(identity?.name).toBe('AnnLee');
  });

  it.each([
    ['a zero-width space', '\u200b'],
    ['tag characters', '\u{e0041}\u{e0042}'],
    ['a Hangul filler between bidi controls', '\u061c\u3164\u2066'],
  ])('falls back to the subject when the name claim is only %s', async (_label, invisible) => {
    const identity = await verifier.verify(await token({ sub: 'user-7', name: invisible }));

    expect(identity?.name).toBe('user-7');
  });

  it.each([
    ['an expired token', () => token({ sub: 'u' }, { expiresIn: '-1m' })],
    [
      'a token signed with another secret',
      () => token({ sub: 'u' }, { secret: new TextEncoder().encode('x'.repeat(40)) }),
    ],
    ['a malformed token', async () => 'not.a.jwt'],
    ['a token without a subject', () => token({ name: 'Nobody' })],
  ])('refuses %s', async (_, make) => {
    expect(await verifier.verify(await make())).toBeUndefined();
  });

  it('refuses a token without an expiry, which would never expire', async () => {
    const forever = await new SignJWT({ sub: 'u', name: 'Ann' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .sign(key);

    expect(await verifier.verify(forever)).toBeUndefined();
  });

  it('names the bearer of a Cognito access token by its username claim', async () => {
    const identity = await verifier.verify(
      await token({ sub: 'f00d-1', username: 'ann', client_id: 'app-1', token_use: 'access' }),
    );

    expect(identity).toEqual({ userId: 'f00d-1', name: 'ann' });
  });
});

describe('JoseTokenVerifier with a preloaded key set', () => {
  it('accepts a token signed by a key of the set and refuses one signed by another key', async () => {
    const trusted = await generateKeyPair('RS256');
    const stranger = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(trusted.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const jwksVerifier = new JoseTokenVerifier({ keys: { jwks: { keys: [jwk] } }, issuer: 'https://issuer.example' });
    const sign = (privateKey: CryptoKey) =>
      new SignJWT({ sub: 'user-9', name: 'Nine' })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer('https://issuer.example')
        .setExpirationTime('5m')
        .sign(privateKey);

    expect([
      await jwksVerifier.verify(await sign(trusted.privateKey)),
      await jwksVerifier.verify(await sign(stranger.privateKey)),
    ]).toEqual([{ userId: 'user-9', name: 'Nine' }, undefined]);
  });
});

/** A key pair whose public half a fake JWKS endpoint serves, and tokens it signs. */
async function signingKey(
  kid: string,
): Promise<{ jwk: JWK; sign: (claims: Record<string, unknown>) => Promise<string> }> {
  const pair = await generateKeyPair('RS256');
  return {
    jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' },
    sign: (claims) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).setExpirationTime('5m').sign(pair.privateKey),
  };
}

const JWKS_URL = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_pool/.well-known/jwks.json';

/** A fetch that never answers until jose gives up on it. */
const hangingFetch = (_url: string, options: { signal: AbortSignal }): Promise<Response> =>
  new Promise((_resolve, reject) => options.signal.addEventListener('abort', () => reject(options.signal.reason)));

describe('JoseTokenVerifier with a JWKS URL', () => {
  it('accepts a token signed by a key the URL serves, and refuses one whose key it does not serve', async () => {
    const served = await signingKey('k1');
    const unknown = await signingKey('k2');
    const remote = new JoseTokenVerifier({
      keys: { jwksUrl: JWKS_URL },
      fetch: async () => Response.json({ keys: [served.jwk] }),
    });

    expect([
      await remote.verify(await served.sign({ sub: 'u1' })),
      await remote.verify(await unknown.sign({ sub: 'u2' })),
    ]).toEqual([{ userId: 'u1', name: 'u1' }, undefined]);
  });

  it.each([
    ['the network fails', async (): Promise<Response> => Promise.reject(new TypeError('fetch failed'))],
    ['the URL answers 503', async () => new Response('unavailable', { status: 503 })],
    ['the URL answers something that is not a key set', async () => Response.json({ keys: 'none' })],
    ['the URL answers something that is not JSON', async () => new Response('<html>', { status: 200 })],
    ['the URL does not answer in time', hangingFetch],
  ])('says the key set is unavailable, not that the token is bad, when %s', async (_, fetch) => {
    const { sign } = await signingKey('k1');
    const remote = new JoseTokenVerifier({ keys: { jwksUrl: JWKS_URL }, fetch, keySetTimeoutMs: 20 });

    await expect(remote.verify(await sign({ sub: 'u1' }))).rejects.toThrow(KeySetUnavailableError);
  });
});

describe('JoseTokenVerifier with a client id (Cognito access tokens)', () => {
  const clientVerifier = new JoseTokenVerifier({ keys: { secret: SECRET }, clientId: 'app-1' });

  it('accepts a token whose client_id is the configured one', async () => {
    expect(await clientVerifier.verify(await token({ sub: 'u', client_id: 'app-1' }))).toEqual({
      userId: 'u',
      name: 'u',
    });
  });

  it.each([
    ['another client_id', { sub: 'u', client_id: 'app-2' }],
    ['no client_id', { sub: 'u' }],
    ['the client id as its audience only', { sub: 'u', aud: 'app-1' }],
  ])('refuses a token with %s', async (_, claims) => {
    expect(await clientVerifier.verify(await token(claims))).toBeUndefined();
  });
});

/** The verifier the composition root builds from these settings. */
const verifierFromEnv = (
  env: Record<string, string | undefined>,
): ((token: string) => ReturnType<TokenVerifier['verify']>) => {
  const { verifier } = buildAuthorizerDependencies(env);
  return (token) => verifier.verify(token);
};

describe("the authorizer's AUTH_* settings", () => {
  it('refuses a configuration with two key sources', () => {
    expect(() =>
      verifierFromEnv({ AUTH_JWT_SECRET: SECRET, AUTH_JWKS_URL: 'https://issuer.example/jwks.json' }),
    ).toThrow(/exactly one/);
  });

  it('tells an authorizer without a key to set a key set, the HMAC secret being for the local stage only', () => {
    const build = () => verifierFromEnv({ AUTH_JWKS_URL: '', AUTH_JWKS: '' });

    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/set AUTH_JWKS_URL .*or AUTH_JWKS .*AUTH_JWT_SECRET is for the local stage only/);
  });

  it('refuses a short HMAC secret', () => {
    expect(() => verifierFromEnv({ AUTH_JWT_SECRET: 'short' })).toThrow(/AUTH_JWT_SECRET/);
  });

  it('checks the client_id of a token against AUTH_CLIENT_ID', async () => {
    const verify = verifierFromEnv({ AUTH_JWT_SECRET: SECRET, AUTH_CLIENT_ID: 'app-1' });

    expect([
      await verify(await token({ sub: 'u', client_id: 'app-1' })),
      await verify(await token({ sub: 'u', client_id: 'app-2' })),
    ]).toEqual([{ userId: 'u', name: 'u' }, undefined]);
  });

  it('checks the audience of a token against AUTH_AUDIENCE', async () => {
    const verify = verifierFromEnv({ AUTH_JWT_SECRET: SECRET, AUTH_AUDIENCE: 'app-1' });

    expect([
      await verify(await token({ sub: 'u', aud: 'app-1' })),
      await verify(await token({ sub: 'u', aud: 'app-2' })),
    ]).toEqual([{ userId: 'u', name: 'u' }, undefined]);
  });
});

describe('$connect authorizer', () => {
  const authorizer = createAuthorizer(() => ({ verifier, logger: new RecordingLogger() }));

  it('allows this connection only, and hands the user id and name on as context', async () => {
    const result = await authorizer(
      authorizerEvent({ token: await token({ sub: 'user-1', name: 'Ann' }) }),
      lambdaContext('authorizer'),
    );

    expect(result).toEqual({
      principalId: 'user-1',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: CONNECT_ROUTE_ARN }],
      },
      context: { userId: 'user-1', name: 'Ann' },
    });
  });

  it.each([
    ['no query string', null],
    ['no token', {}],
    ['a bad token', { token: 'not.a.jwt' }],
  ])('denies the handshake (403) for %s, and hands nothing on', async (_, query) => {
    expect(await authorizer(authorizerEvent(query), lambdaContext('authorizer'))).toEqual({
      principalId: 'anonymous',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: CONNECT_ROUTE_ARN }],
      },
    });
  });

  it('logs a bad token as nothing worse than a refusal', async () => {
    const logger = new RecordingLogger();
    const quiet = createAuthorizer(() => ({ verifier, logger }));

    await quiet(
      authorizerEvent({ token: await token({ sub: 'u' }, { expiresIn: '-1m' }) }),
      lambdaContext('authorizer'),
    );

    expect(logger.entries).toEqual([]);
  });

  it('logs an unreachable key set as an error of its own, and still denies the handshake', async () => {
    const logger = new RecordingLogger();
    const { sign } = await signingKey('k1');
    const offline = new JoseTokenVerifier({
      keys: { jwksUrl: JWKS_URL },
      fetch: () => Promise.reject(new TypeError('fetch failed')),
    });
    const guarded = createAuthorizer(() => ({ verifier: offline, logger }));

    const result = await guarded(authorizerEvent({ token: await sign({ sub: 'u1' }) }), lambdaContext('authorizer'));

    expect({
      effect: result.policyDocument.Statement[0],
      logged: logger.entries.map(({ level, message }) => ({ level, message })),
    }).toEqual({
      effect: expect.objectContaining({ Effect: 'Deny' }),
      logged: [{ level: 'error', message: 'could not fetch the key set' }],
    });
  });
});
