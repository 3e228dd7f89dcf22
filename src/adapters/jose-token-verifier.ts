import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  type FetchImplementation,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTPayload,
  jwtVerify,
} from 'jose';
import { lookAlikeNameProblem, MAX_NAME_CHARACTERS, UNSAFE_NAME_CHARACTER } from '../domain/display-name.ts';
import {
  type Identity,
  KeySetUnavailableError,
  MAX_USER_ID_LENGTH,
  type TokenVerifier,
} from '../domain/token-verifier.ts';

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
  /** The `aud` a token must carry (a Cognito ID token's audience is its app client id). */
  readonly audience?: string;
  /** The `client_id` a token must carry (Cognito access tokens name their app client there, and have no `aud`). */
  readonly clientId?: string;
  /** The `token_use` a token must carry: Cognito's `id` or `access`. */
  readonly tokenUse?: string;
  /** The longest a token may live: its `exp` at most this far ahead, its `iat` (when it has one) at most this far back. */
  readonly maxTokenAgeSeconds?: number;
  /** How long a fetch of the JWKS URL may take; well inside the authorizer's 5 s timeout, so a slow one is logged. */
  readonly keySetTimeoutMs?: number;
  /** What fetches the JWKS URL; the platform's `fetch` unless a test gives another. */
  readonly fetch?: FetchImplementation;
}

const DEFAULT_KEY_SET_TIMEOUT_MS = 3000;
const DEFAULT_MAX_TOKEN_AGE_SECONDS = 86_400;

// Errors of the key lookup that are the token's fault: its `kid` or `alg` names no usable key of the set.
const TOKEN_FAULTS = [errors.JWKSNoMatchingKey, errors.JWKSMultipleMatchingKeys, errors.JOSENotSupported];

const UNSAFE = new RegExp(UNSAFE_NAME_CHARACTER.source, 'gu');

/**
 * The claim held to the rules of names chosen in the chat: its unsafe characters dropped, and `''` when nothing
 * is left of it or what is left could pass for another name (then the next claim is tried).
 */
function cleaned(claim: string): string {
  const visible = claim.replace(UNSAFE, '').trim();
  const name = [...visible].slice(0, MAX_NAME_CHARACTERS).join('').trim();
  return lookAlikeNameProblem(name) === undefined ? name : '';
}

/** A display name from the first name claim that is not empty once cleaned, else from the subject. */
function displayName(payload: JWTPayload, userId: string): string {
  const claims = [
    payload['name'],
    payload['preferred_username'],
    payload['cognito:username'],
    // Cognito access tokens carry `username` instead of `cognito:username`.
    payload['username'],
    payload['email'],
    userId,
  ];
  for (const claim of claims) {
    const name = typeof claim === 'string' ? cleaned(claim) : '';
    if (name !== '') return name;
  }
  return 'Someone';
}

type KeyLookup = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

/** The remote key set, with its failures told apart from the token's. */
function remoteKeys(url: string, options: JoseTokenVerifierOptions): KeyLookup {
  const keySet = createRemoteJWKSet(new URL(url), {
    timeoutDuration: options.keySetTimeoutMs ?? DEFAULT_KEY_SET_TIMEOUT_MS,
    ...(options.fetch !== undefined ? { [customFetch]: options.fetch } : {}),
  });
  return async (header, token) => {
    try {
      return await keySet(header, token);
    } catch (error) {
      if (TOKEN_FAULTS.some((fault) => error instanceof fault)) throw error;
      const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new KeySetUnavailableError(`could not fetch the key set from ${url} (${why})`, { cause: error });
    }
  };
}

/** Whether the token claims to live no longer than `maxAge` seconds, counted from now both ways. */
function withinAge(payload: JWTPayload, maxAge: number): boolean {
  const now = Math.floor(Date.now() / 1000);
  // jose has checked that exp is a number in the future and iat, when present, a number.
  if (typeof payload.exp !== 'number' || payload.exp - now > maxAge) return false;
  return payload.iat === undefined || now - payload.iat <= maxAge;
}

/**
 * Verifies JWTs with jose: signature, a required expiry no further ahead than the maximum token age, not-before,
 * issued-at no longer ago than that age, a subject of at most 256 characters, and the issuer, audience, client id
 * and token use when configured.
 */
export class JoseTokenVerifier implements TokenVerifier {
  readonly #verify: (token: string) => Promise<JWTPayload>;
  readonly #clientId: string | undefined;
  readonly #tokenUse: string | undefined;
  readonly #maxAge: number;

  constructor(options: JoseTokenVerifierOptions) {
    const claims = {
      // A token without `exp` would never expire.
      requiredClaims: ['exp'],
      ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
      ...(options.audience !== undefined ? { audience: options.audience } : {}),
    };
    this.#clientId = options.clientId;
    this.#tokenUse = options.tokenUse;
    this.#maxAge = options.maxTokenAgeSeconds ?? DEFAULT_MAX_TOKEN_AGE_SECONDS;
    const { keys } = options;
    if ('secret' in keys) {
      const secret = new TextEncoder().encode(keys.secret);
      this.#verify = async (token) =>
        (await jwtVerify(token, secret, { ...claims, algorithms: ['HS256', 'HS384', 'HS512'] })).payload;
    } else {
      const keySet = 'jwks' in keys ? createLocalJWKSet(keys.jwks) : remoteKeys(keys.jwksUrl, options);
      this.#verify = async (token) => (await jwtVerify(token, keySet, claims)).payload;
    }
  }

  /**
   * The bearer's identity, or `undefined` for a token that is malformed, expired, too long-lived, wrongly signed,
   * not for us, or whose subject is longer than {@link MAX_USER_ID_LENGTH}. Throws {@link KeySetUnavailableError} when the key set cannot be fetched: that is no verdict on the token.
   */
  async verify(token: string): Promise<Identity | undefined> {
    let payload: JWTPayload;
    try {
      payload = await this.#verify(token);
    } catch (error) {
      if (error instanceof KeySetUnavailableError) throw error;
      return undefined;
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') return undefined;
    // The connection caps count connections per user: a subject too long to be counted must not get past them.
    if (payload.sub.length > MAX_USER_ID_LENGTH) return undefined;
    if (!withinAge(payload, this.#maxAge)) return undefined;
    if (this.#clientId !== undefined && payload['client_id'] !== this.#clientId) return undefined;
    if (this.#tokenUse !== undefined && payload['token_use'] !== this.#tokenUse) return undefined;
    return { userId: payload.sub, name: displayName(payload, payload.sub) };
  }
}
