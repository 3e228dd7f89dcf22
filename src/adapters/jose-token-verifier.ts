import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';

/** Who a verified token says its bearer is. */
export interface Identity {
  readonly userId: string;
  readonly name: string;
}

export type TokenKeys =
  /** A shared HMAC secret (HS256/384/512): simple deployments and local development. */
  | { readonly secret: string }
  /** A key set given inline, e.g. preloaded from Cognito's or another OIDC provider's JWKS URL; no network. */
  | { readonly jwks: JSONWebKeySet }
  /** A JWKS URL, fetched and cached by jose (Cognito: https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json). */
  | { readonly jwksUrl: string };

export interface JoseTokenVerifierOptions {
  readonly keys: TokenKeys;
  readonly issuer?: string;
  readonly audience?: string;
}

const UNSAFE = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/** A display name from a claim, held to the same rules as names chosen in the chat. */
function displayName(payload: JWTPayload, userId: string): string {
  const claims = [payload['name'], payload['preferred_username'], payload['cognito:username'], payload['email']];
  const claim = claims.find((value): value is string => typeof value === 'string' && value.trim() !== '');
  const cleaned = (claim ?? userId).replace(UNSAFE, '').trim();
  return [...cleaned].slice(0, 32).join('') || 'Someone';
}

/** Verifies JWTs with jose: signature, expiry and not-before, and the issuer and audience when configured. */
export class JoseTokenVerifier {
  readonly #verify: (token: string) => Promise<JWTPayload>;

  constructor(options: JoseTokenVerifierOptions) {
    const claims = {
      ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
      ...(options.audience !== undefined ? { audience: options.audience } : {}),
    };
    const { keys } = options;
    if ('secret' in keys) {
      const secret = new TextEncoder().encode(keys.secret);
      this.#verify = async (token) =>
        (await jwtVerify(token, secret, { ...claims, algorithms: ['HS256', 'HS384', 'HS512'] })).payload;
    } else {
      const keySet = 'jwks' in keys ? createLocalJWKSet(keys.jwks) : createRemoteJWKSet(new URL(keys.jwksUrl));
      this.#verify = async (token) => (await jwtVerify(token, keySet, claims)).payload;
    }
  }

  /** The bearer's identity, or `undefined` for a token that is malformed, expired, wrongly signed or not for us. */
  async verify(token: string): Promise<Identity | undefined> {
    let payload: JWTPayload;
    try {
      payload = await this.#verify(token);
    } catch {
      return undefined;
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') return undefined;
    return { userId: payload.sub, name: displayName(payload, payload.sub) };
  }
}
