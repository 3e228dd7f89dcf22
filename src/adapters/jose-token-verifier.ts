import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import { MAX_NAME_CHARACTERS, UNSAFE_NAME_CHARACTER } from '../domain/display-name.ts';

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

const UNSAFE = new RegExp(UNSAFE_NAME_CHARACTER.source, 'gu');

/** The claim held to the rules of names chosen in the chat, or `''` when nothing is left of it. */
function cleaned(claim: string): string {
  const visible = claim.replace(UNSAFE, '').trim();
  return [...visible].slice(0, MAX_NAME_CHARACTERS).join('').trim();
}

/** A display name from the first name claim that is not empty once cleaned, else from the subject. */
function displayName(payload: JWTPayload, userId: string): string {
  const claims = [payload['name'], payload['preferred_username'], payload['cognito:username'], payload['email'], userId];
  for (const claim of claims) {
    const name = typeof claim === 'string' ? cleaned(claim) : '';
    if (name !== '') return name;
  }
  return 'Someone';
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
