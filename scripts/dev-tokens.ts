/** Development tokens for `npm start` with CHAT_AUTH_MODE=jwt: signed with a secret made for this run. */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';

export interface DevTokens {
  /** The HMAC secret the authorizer verifies with. */
  readonly secret: string;
  /** A token for a new development user, valid for 12 hours. */
  mint(): Promise<string>;
}

export function devTokens(secret = randomBytes(32).toString('base64url')): DevTokens {
  const key = new TextEncoder().encode(secret);
  let users = 0;
  return {
    secret,
    mint() {
      users += 1;
      const suffix = randomBytes(2).toString('hex');
      return new SignJWT({ name: `Dev ${users}-${suffix}` })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(`dev-user-${users}-${suffix}`)
        .setIssuedAt()
        .setExpirationTime('12h')
        .sign(key);
    },
  };
}
