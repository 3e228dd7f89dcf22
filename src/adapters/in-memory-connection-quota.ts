import { CONNECTION_LIFETIME_MS } from '../domain/chat-service.ts';
import {
  type ConnectionCaps,
  type ConnectionOwners,
  type ConnectionQuota,
  QUOTA_CLAIM_GRACE_MS,
  type QuotaClaim,
} from '../domain/connection-quota.ts';

/** Whether a connection is live (stored, not retired, not expired): the repository's `get`. */
export type LiveConnections = (connectionId: string) => Promise<boolean>;

/** Connection slots per user and per address in this process's memory: for a single process, and for tests. */
export class InMemoryConnectionQuota implements ConnectionQuota {
  readonly #caps: ConnectionCaps;
  readonly #now: () => Date;
  /** Owner key → connection id → expiry in epoch milliseconds. */
  readonly #slots = new Map<string, Map<string, number>>();
  readonly #isLive: LiveConnections;

  /** `isLive` tells the slots of live connections from abandoned ones; without it every slot is live. */
  constructor(caps: ConnectionCaps, now: () => Date = () => new Date(), isLive: LiveConnections = async () => true) {
    this.#caps = caps;
    this.#now = now;
    this.#isLive = isLive;
  }

  async claim(connectionId: string, owners: ConnectionOwners, expiresAt: Date): Promise<QuotaClaim> {
    const capped = this.#capped(owners);
    for (const { key, cap } of capped) {
      const slots = this.#live(key);
      if (!slots.has(connectionId) && slots.size >= cap) await this.#takeBackAbandoned(slots);
    }
    for (const { key, cap, refusal } of capped) {
      const slots = this.#live(key);
      if (!slots.has(connectionId) && slots.size >= cap) return refusal;
    }
    for (const { key } of capped) this.#live(key).set(connectionId, expiresAt.getTime());
    return 'claimed';
  }

  /**
   * Takes a slot of each owner at once, with no wait, for a repository's save with slots: `false` (nothing taken)
   * when an owner holds as many live slots as its cap; abandoned ones are for {@link claim} to take back.
   */
  takeAtOnce(connectionId: string, owners: ConnectionOwners, expiresAt: Date): boolean {
    const capped = this.#capped(owners);
    if (capped.some(({ key, cap }) => !this.#live(key).has(connectionId) && this.#live(key).size >= cap)) return false;
    for (const { key } of capped) this.#live(key).set(connectionId, expiresAt.getTime());
    return true;
  }

  async release(connectionId: string, owners: ConnectionOwners): Promise<void> {
    this.releaseAtOnce(connectionId, owners);
  }

  /** {@link release} with no wait, for a repository's removal with slots. */
  releaseAtOnce(connectionId: string, owners: ConnectionOwners): void {
    for (const { key } of this.#capped(owners)) this.#slots.get(key)?.delete(connectionId);
  }

  /** The owners whose cap applies, with the refusal each gives. */
  #capped(owners: ConnectionOwners): Array<{ key: string; cap: number; refusal: QuotaClaim }> {
    const capped: Array<{ key: string; cap: number; refusal: QuotaClaim }> = [];
    if (owners.userId !== undefined && this.#caps.perUser > 0) {
      capped.push({ key: `user#${owners.userId}`, cap: this.#caps.perUser, refusal: 'user_at_cap' });
    }
    if (owners.sourceIp !== undefined && this.#caps.perIp > 0) {
      capped.push({ key: `ip#${owners.sourceIp}`, cap: this.#caps.perIp, refusal: 'ip_at_cap' });
    }
    return capped;
  }

  /** Drops the slots of connections that are not live, claimed longer ago than a $connect runs. */
  async #takeBackAbandoned(slots: Map<string, number>): Promise<void> {
    const claimedBefore = this.#now().getTime() - QUOTA_CLAIM_GRACE_MS + CONNECTION_LIFETIME_MS;
    for (const [id, expiresAt] of [...slots]) {
      if (expiresAt < claimedBefore && !(await this.#isLive(id))) slots.delete(id);
    }
  }

  /** The owner's slots, without those that expired. */
  #live(key: string): Map<string, number> {
    const now = this.#now().getTime();
    const slots = this.#slots.get(key) ?? new Map<string, number>();
    for (const [id, expiresAt] of slots) if (expiresAt <= now) slots.delete(id);
    this.#slots.set(key, slots);
    return slots;
  }
}
