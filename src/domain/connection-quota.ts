/** Whom a connection counts against: the verified user behind it and the address it came from, when known. */
export interface ConnectionOwners {
  readonly userId?: string;
  readonly sourceIp?: string;
}

/** How many live connections each owner may hold; 0 means no cap. */
export interface ConnectionCaps {
  readonly perUser: number;
  readonly perIp: number;
}

/** `claimed`, or the owner whose cap the connection would exceed (then it holds no slot at all). */
export type QuotaClaim = 'claimed' | 'user_at_cap' | 'ip_at_cap';

/**
 * A slot claimed longer ago than this belongs to a $connect that has ended (its function times out at 29 s): if
 * its connection is not stored by now, it never will be.
 */
export const QUOTA_CLAIM_GRACE_MS = 60_000;

/**
 * Caps the live connections of each user and of each source address, counted alike by every Lambda
 * container. A slot is held until it is released or the connection expires; an owner at its cap gets back the
 * slots of connections that are no longer live (not stored, or found gone), claimed more than
 * {@link QUOTA_CLAIM_GRACE_MS} ago: a release that failed, or a $connect that failed after claiming, costs no slot.
 */
export interface ConnectionQuota {
  /**
   * Takes a slot for the connection from each of its owners, or from none when one of them is at its cap.
   * Claiming again for a connection that holds its slots changes nothing and succeeds.
   */
  claim(connectionId: string, owners: ConnectionOwners, expiresAt: Date): Promise<QuotaClaim>;
  /** Gives the connection's slots back; releasing slots it does not hold changes nothing. */
  release(connectionId: string, owners: ConnectionOwners): Promise<void>;
}
