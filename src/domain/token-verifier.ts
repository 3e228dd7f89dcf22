/** The longest user id (a token's `sub`) the chat accepts and counts connections for, in UTF-16 units. */
export const MAX_USER_ID_LENGTH = 256;

/** Who a verified token says its bearer is. */
export interface Identity {
  readonly userId: string;
  readonly name: string;
}

/**
 * Tells who a handshake's token belongs to: the identity, or `undefined` for a token that does not verify
 * (malformed, expired, wrongly signed, not for us). Throws {@link KeySetUnavailableError} when it cannot tell.
 */
export interface TokenVerifier {
  verify(token: string): Promise<Identity | undefined>;
}

/** The keys that tokens are checked with could not be had (unreachable, too slow, not a key set): no verdict. */
export class KeySetUnavailableError extends Error {
  override readonly name = 'KeySetUnavailableError';
}
