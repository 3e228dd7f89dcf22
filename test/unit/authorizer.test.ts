import { describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { JoseTokenVerifier } from '../../src/adapters/jose-token-verifier.ts';
import { KeySetUnavailableError, type TokenVerifier } from '../../src/domain/token-verifier.ts';
import { createAuthorizer } from '../../src/handlers/functions/authorizer.ts';
import { buildAuthorizerDependencies } from '../../src/handlers/wiring/authorizer-composition-root.ts';
import { ConfigError } from '../../src/handlers/wiring/config.ts';
import { RecordingLogger } from '../fakes/recording-logger.ts';
import { RecordingMetrics } from '../fakes/recording-metrics.ts';
import { authorizerEvent, CONNECT_ROUTE_ARN, lambdaContext } from '../support/lambda-events.ts';

const SECRET = 'a-test-secret-that-is-at-least-32-characters-long';
const key = new TextEncoder().encode(SECRET);

function token(
  claims: Record<string, unknown>,
  options: { expiresIn?: string | number; issuedAt?: number; secret?: Uint8Array } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(options.issuedAt)
    .setExpirationTime(options.expiresIn ?? '1h')
    .sign(options.secret ?? key);
}

const nowInSeconds = (): number => Math.floor(Date.now() / 1000);

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

  it('refuses a token whose expiry is further ahead than the maximum token age (24 h by default)', async () => {
    const centuryLong = await token({ sub: 'u' }, { expiresIn: '100y' });
    const dayLong = await token({ sub: 'u' }, { expiresIn: '23h' });

    expect([await verifier.verify(centuryLong), await verifier.verify(dayLong)]).toEqual([
      undefined,
      { userId: 'u', name: 'u' },
    ]);
  });

  it('refuses a token issued longer ago than the maximum token age, even if it has not expired', async () => {
    const stale = await token({ sub: 'u' }, { issuedAt: nowInSeconds() - 25 * 3600, expiresIn: '1h' });

    expect(await verifier.verify(stale)).toBeUndefined();
  });

  it('holds tokens to the maximum token age it is given', async () => {
    const hourly = new JoseTokenVerifier({ keys: { secret: SECRET }, maxTokenAgeSeconds: 3600 });

    expect([
      await hourly.verify(await token({ sub: 'u' }, { expiresIn: '2h' })),
      await hourly.verify(await token({ sub: 'u' }, { expiresIn: '50m' })),
    ]).toEqual([undefined, { userId: 'u', name: 'u' }]);
  });

  it('refuses a subject longer than 256 characters, which the connection caps could not count', async () => {
    const identities = [
      await verifier.verify(await token({ sub: 's'.repeat(257) })),
      await verifier.verify(await token({ sub: 's'.repeat(256), name: 'Ann' })),
    ];

    expect(identities).toEqual([undefined, { userId: 's'.repeat(256), name: 'Ann' }]);
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
    expect(() => verifierFromEnv({ AUTH_JWT_SECRET: 'short', AUTH_AUDIENCE: 'chat' })).toThrow(/AUTH_JWT_SECRET/);
  });

  it.each([
    ['32 identical characters', 'x'.repeat(32), /AUTH_JWT_SECRET: too weak \(only 1 different characters/],
    ['31 bytes of varied characters', 'aB3$dE6^gH9*jK2@mN5!pQ8&sT1%vWy', /AUTH_JWT_SECRET: too weak \(31 bytes/],
    [
      'a short pattern repeated',
      'abcdefghijklmnop'.repeat(2),
      /AUTH_JWT_SECRET: too weak \(a shorter pattern repeated/,
    ],
  ])('refuses an HMAC secret of %s at start-up', (_, secret, message) => {
    const build = () => verifierFromEnv({ AUTH_JWT_SECRET: secret, AUTH_AUDIENCE: 'chat' });

    expect(build).toThrow(ConfigError);
    expect(build).toThrow(message);
  });

  it.each([
    ['a key set URL', { AUTH_JWKS_URL: 'https://issuer.example/jwks.json' }],
    ['an HMAC secret', { AUTH_JWT_SECRET: SECRET }],
  ])('refuses %s with neither audience, issuer nor client id, naming the three settings', (_, env) => {
    const build = () => verifierFromEnv(env);

    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/set at least one of AUTH_AUDIENCE .*AUTH_ISSUER .*AUTH_CLIENT_ID/);
  });

  it('holds tokens to AUTH_MAX_TOKEN_AGE_SECONDS', async () => {
    const verify = verifierFromEnv({
      AUTH_JWT_SECRET: SECRET,
      AUTH_AUDIENCE: 'chat',
      AUTH_MAX_TOKEN_AGE_SECONDS: '600',
    });

    expect([
      await verify(await token({ sub: 'u', aud: 'chat' }, { expiresIn: '11m' })),
      await verify(await token({ sub: 'u', aud: 'chat' }, { expiresIn: '9m' })),
    ]).toEqual([undefined, { userId: 'u', name: 'u' }]);
  });

  it('checks the client_id of a token against AUTH_CLIENT_ID', async () => {
    const verify = verifierFromEnv({ AUTH_JWT_SECRET: SECRET, AUTH_CLIENT_ID: 'app-1' });

    expect([
      await verify(await token({ sub: 'u', client_id: 'app-1' })),
      await verify(await token({ sub: 'u', client_id: 'app-2' })),
    ]).toEqual([{ userId: 'u', name: 'u' }, undefined]);
  });

  const COGNITO_ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_pool';

  it("requires a Cognito pool's ID tokens when AUTH_AUDIENCE names the app client", async () => {
    const verify = verifierFromEnv({ AUTH_JWT_SECRET: SECRET, AUTH_ISSUER: COGNITO_ISSUER, AUTH_AUDIENCE: 'app-1' });
    const claims = { sub: 'u', iss: COGNITO_ISSUER, aud: 'app-1' };

    expect([
      await verify(await token({ ...claims, token_use: 'id' })),
      await verify(await token({ ...claims, token_use: 'access' })),
      await verify(await token(claims)),
    ]).toEqual([{ userId: 'u', name: 'u' }, undefined, undefined]);
  });

  it("requires a Cognito pool's access tokens when AUTH_CLIENT_ID names the app client", async () => {
    const verify = verifierFromEnv({ AUTH_JWT_SECRET: SECRET, AUTH_ISSUER: COGNITO_ISSUER, AUTH_CLIENT_ID: 'app-1' });
    const claims = { sub: 'u', iss: COGNITO_ISSUER, client_id: 'app-1' };

    expect([
      await verify(await token({ ...claims, token_use: 'access' })),
      await verify(await token({ ...claims, token_use: 'id' })),
    ]).toEqual([{ userId: 'u', name: 'u' }, undefined]);
  });

  it("checks a Cognito pool's tokens named by their issuer alone for AUTH_TOKEN_USE, ID tokens by default", async () => {
    const byDefault = verifierFromEnv({ AUTH_JWT_SECRET: SECRET, AUTH_ISSUER: COGNITO_ISSUER });
    const accessOnly = verifierFromEnv({
      AUTH_JWT_SECRET: SECRET,
      AUTH_ISSUER: COGNITO_ISSUER,
      AUTH_TOKEN_USE: 'access',
    });
    const idToken = await token({ sub: 'u', iss: COGNITO_ISSUER, token_use: 'id' });
    const accessToken = await token({ sub: 'u', iss: COGNITO_ISSUER, token_use: 'access' });

    expect([
      await byDefault(idToken),
      await byDefault(accessToken),
      await accessOnly(idToken),
      await accessOnly(accessToken),
    ]).toEqual([{ userId: 'u', name: 'u' }, undefined, undefined, { userId: 'u', name: 'u' }]);
  });

  it.each([
    [
      'AUTH_TOKEN_USE access with AUTH_AUDIENCE',
      { AUTH_ISSUER: COGNITO_ISSUER, AUTH_AUDIENCE: 'app-1', AUTH_TOKEN_USE: 'access' },
      /AUTH_TOKEN_USE: access tokens of Cognito carry their app client in client_id/,
    ],
    [
      'both AUTH_AUDIENCE and AUTH_CLIENT_ID, for a pool named by its key set URL',
      {
        AUTH_JWT_SECRET: '',
        AUTH_JWKS_URL: `${COGNITO_ISSUER}/.well-known/jwks.json`,
        AUTH_AUDIENCE: 'app-1',
        AUTH_CLIENT_ID: 'app-1',
      },
      /never both: set one of them/,
    ],
  ])('refuses for a Cognito pool %s, which no token of the pool satisfies', (_, env, message) => {
    expect(() => verifierFromEnv({ AUTH_JWT_SECRET: SECRET, ...env })).toThrow(message);
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
  const authorizer = createAuthorizer(() => ({
    verifier,
    logger: new RecordingLogger(),
    metrics: new RecordingMetrics(),
  }));

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

  it('logs a bad token as a refusal, as information without an error, and counts it by its reason', async () => {
    const logger = new RecordingLogger();
    const metrics = new RecordingMetrics();
    const quiet = createAuthorizer(() => ({ verifier, logger, metrics }));

    await quiet(
      authorizerEvent({ token: await token({ sub: 'u' }, { expiresIn: '-1m' }) }),
      lambdaContext('authorizer'),
    );

    expect({
      logged: logger.entries.map(({ level, message, fields }) => ({ level, message, error: fields['error'] })),
      counted: metrics.dimensioned,
      published: metrics.published,
    }).toEqual({
      logged: [{ level: 'info', message: 'handshake refused', error: undefined }],
      counted: [{ name: 'HandshakesRefused', value: 1, dimensions: { Reason: 'invalid_token' } }],
      published: 1,
    });
  });

  it('denies a token whose subject is longer than 256 characters', async () => {
    const result = await authorizer(
      authorizerEvent({ token: await token({ sub: 'u'.repeat(300), name: 'Ann' }) }),
      lambdaContext('authorizer'),
    );

    expect(result.policyDocument.Statement[0]?.Effect).toBe('Deny');
  });

  it('logs an unreachable key set as an error of its own, and still denies the handshake', async () => {
    const logger = new RecordingLogger();
    const { sign } = await signingKey('k1');
    const offline = new JoseTokenVerifier({
      keys: { jwksUrl: JWKS_URL },
      fetch: () => Promise.reject(new TypeError('fetch failed')),
    });
    const guarded = createAuthorizer(() => ({ verifier: offline, logger, metrics: new RecordingMetrics() }));

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
