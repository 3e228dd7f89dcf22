/** Development tokens for `npm start` with CHAT_AUTH_MODE=jwt: signed with a secret made for this run. */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';

/** The audience of the development tokens, which the local authorizer requires. */
const DEV_AUDIENCE = 'ws-chat-local';

export interface DevTokens {
  /** The HMAC secret the authorizer verifies with. */
  readonly secret: string;
  /** The authorizer's settings that accept these tokens: the secret and their audience. */
  readonly authorizerEnv: Readonly<Record<'AUTH_JWT_SECRET' | 'AUTH_AUDIENCE', string>>;
  /** A token for a new development user, valid for 12 hours. */
  mint(): Promise<string>;
}

export function devTokens(secret = randomBytes(32).toString('base64url')): DevTokens {
  const key = new TextEncoder().encode(secret);
  let users = 0;
  return {
    secret,
    authorizerEnv: { AUTH_JWT_SECRET: secret, AUTH_AUDIENCE: DEV_AUDIENCE },
    mint() {
      users += 1;
      const suffix = randomBytes(2).toString('hex');
      return new SignJWT({ name: `Dev ${users}-${suffix}` })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(`dev-user-${users}-${suffix}`)
        .setAudience(DEV_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('12h')
        .sign(key);
    },
  };
}
