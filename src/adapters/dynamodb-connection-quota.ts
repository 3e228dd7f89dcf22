import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { connectionIdOfKey, connectionKey, quotaKey } from './dynamodb-keys.ts';
import { CONNECTION_LIFETIME_MS } from '../domain/chat-service.ts';
import {
  type ConnectionCaps,
  type ConnectionOwners,
  type ConnectionQuota,
  QUOTA_CLAIM_GRACE_MS,
  type QuotaClaim,
} from '../domain/connection-quota.ts';

/** BatchGetItem reads at most 100 keys per call. */
const BATCH_GET_LIMIT = 100;

/** Expired slots dropped per write, which keeps the update expression far below DynamoDB's 4 KB. */
const DROP_BATCH = 50;
/**
 * A claim retries only when the owner's slots changed between its refused write and its read (a slot was
 * freed meanwhile); this many such races in a row mean something is wrong.
 */
const CLAIM_ATTEMPTS = 8;

export interface DynamoDbConnectionQuotaOptions {
  readonly tableName: string;
  readonly caps: ConnectionCaps;
  readonly now?: () => Date;
}

/** A claim kept losing races with other writers of the same owner's slots. */
export class QuotaContentionError extends Error {
  override readonly name = 'QuotaContentionError';
}

interface CappedOwner {
  readonly key: { readonly pk: string; readonly sk: string };
  readonly cap: number;
  readonly refusal: QuotaClaim;
}

/** A slot's attribute in its owner's item: the prefix, then the connection id; its value is the slot's expiry. */
const SLOT_PREFIX = 'slot:';

/** An owner's item as read: its slots (connection id to expiry, epoch seconds) and the count the claims keep. */
interface Slots {
  readonly slots: Record<string, number>;
  readonly count: number;
}

/**
 * Keeps each owner's slots in one item, one attribute per slot (named by its connection) holding its expiry in
 * epoch seconds, and their count, so every Lambda container counts the same slots. Claiming under the cap is one
 * conditional `UpdateItem` that adds the slot and raises the count only while the count is below the cap and the
 * slot is not there, which creates the item for an owner's first connection too: so concurrent claims never both
 * take the last slot, and a claim is one request whether or not the owner holds any. Only a refused claim reads the
 * item: to see whether the connection holds its slot already (a replay), or to drop expired and abandoned slots.
 * Every write that removes slots lowers the count by as many, on condition that each is there, so a replay
 * changes nothing. The item carries the table's TTL attribute, `expiresAt`.
 */
export class DynamoDbConnectionQuota implements ConnectionQuota {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #caps: ConnectionCaps;
  readonly #now: () => Date;

  constructor(client: DynamoDBDocumentClient, options: DynamoDbConnectionQuotaOptions) {
    this.#client = client;
    this.#tableName = options.tableName;
    this.#caps = options.caps;
    this.#now = options.now ?? (() => new Date());
  }

  async claim(connectionId: string, owners: ConnectionOwners, expiresAt: Date): Promise<QuotaClaim> {
    const expiry = Math.ceil(expiresAt.getTime() / 1000);
    const capped = this.#capped(owners);
    // The user's slot and the address's are separate items: both are claimed at once, one round trip for the two.
    const results = await Promise.allSettled(capped.map((owner) => this.#claimOne(owner, connectionId, expiry)));
    const refused = capped.find((_, i) => {
      const result = results[i];
      return result?.status === 'fulfilled' && !result.value;
    });
    const failed = results.find((result) => result.status === 'rejected');
    if (refused === undefined && failed === undefined) return 'claimed';
    // All or none: a connection refused by one owner holds no slot of another.
    await Promise.all(
      capped.flatMap((owner, i) => {
        const result = results[i];
        return result?.status === 'fulfilled' && result.value ? [this.#releaseOne(owner, connectionId)] : [];
      }),
    );
    if (failed !== undefined) throw failed.reason;
    return refused?.refusal ?? 'claimed';
  }

  /**
   * The writes that take a slot of each capped owner, for a transaction of their own (the connection repository's
   * save with slots): each refused, and the transaction with it, when its owner holds as many slots as its cap.
   */
  slotClaims(
    connectionId: string,
    owners: ConnectionOwners,
    expiresAt: Date,
  ): { Update: NonNullable<TransactWriteCommandInput['TransactItems']>[number]['Update'] }[] {
    const expiry = Math.ceil(expiresAt.getTime() / 1000);
    return this.#capped(owners).map((owner) => ({
      Update: { TableName: this.#tableName, ...this.#addition(owner, connectionId, expiry) },
    }));
  }

  /**
   * The writes that give back the connection's slot of each capped owner, for a transaction of their own (the
   * connection repository's removal with slots): each refused, and the transaction with it, when the slot is not held.
   */
  slotReleases(
    connectionId: string,
    owners: ConnectionOwners,
  ): { Update: NonNullable<TransactWriteCommandInput['TransactItems']>[number]['Update'] }[] {
    return this.#capped(owners).map((owner) => ({
      Update: { TableName: this.#tableName, ...this.#removal(owner, [connectionId]) },
    }));
  }

  async release(connectionId: string, owners: ConnectionOwners): Promise<void> {
    await Promise.all(this.#capped(owners).map((owner) => this.#releaseOne(owner, connectionId)));
  }

  /** `true` once the connection holds a slot of this owner, `false` when the owner is at its cap. */
  async #claimOne(owner: CappedOwner, connectionId: string, expiry: number): Promise<boolean> {
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS;) {
      if (await this.#tryAdd(owner, connectionId, expiry)) return true;
      const { slots, count } = await this.#read(owner);
      // A replayed claim (the SDK retries a write whose answer was lost) finds its own slot.
      if (Object.hasOwn(slots, connectionId)) return true;
      const held = Object.keys(slots);
      if (count !== held.length) {
        // Never left so by the writes here (each moves the count with its slots); put right rather than refuse.
        await this.#recount(owner, count, held.length);
        continue;
      }
      const now = this.#now().getTime() / 1000;
      const expired = held.filter((id) => (slots[id] ?? 0) <= now);
      if (expired.length > 0) {
        // Dropping expired slots makes progress of its own, so it does not count as an attempt.
        await this.#drop(owner, expired.slice(0, DROP_BATCH));
        continue;
      }
      if (held.length >= owner.cap) {
        // At its cap: slots of connections that are no longer stored (a $disconnect that could not give them back,
        // a $connect that failed after claiming) are taken back, and the claim tried again.
        const abandoned = await this.#abandoned(slots);
        if (abandoned.length === 0) return false;
        await this.#drop(owner, abandoned.slice(0, DROP_BATCH));
        continue;
      }
      attempt += 1;
    }
    throw new QuotaContentionError(`could not claim a slot of ${owner.key.pk} in ${CLAIM_ATTEMPTS} attempts`);
  }

  /**
   * The held slots whose connections are not live (not stored, retired or being removed), among those claimed
   * longer ago than a $connect can run: a younger slot may belong to a $connect that has not stored its row yet.
   */
  async #abandoned(slots: Record<string, number>): Promise<string[]> {
    const claimedBefore = (this.#now().getTime() - QUOTA_CLAIM_GRACE_MS + CONNECTION_LIFETIME_MS) / 1000;
    const candidates = Object.keys(slots)
      .filter((id) => (slots[id] ?? Infinity) < claimedBefore)
      .slice(0, BATCH_GET_LIMIT);
    if (candidates.length === 0) return [];
    const live = new Set<string>();
    let keys: Record<string, unknown>[] | undefined = candidates.map((id) => ({ ...connectionKey(id) }));
    for (let attempt = 0; keys !== undefined && keys.length > 0 && attempt < 5; attempt += 1) {
      const result: BatchGetCommandOutput = await this.#client.send(
        new BatchGetCommand({
          RequestItems: {
            [this.#tableName]: { Keys: keys, ProjectionExpression: 'pk, retired, removedBy', ConsistentRead: true },
          },
        }),
      );
      for (const { pk, retired, removedBy } of result.Responses?.[this.#tableName] ?? []) {
        const id = typeof pk === 'string' ? connectionIdOfKey(pk) : undefined;
        if (id !== undefined && retired === undefined && removedBy === undefined) live.add(id);
      }
      keys = result.UnprocessedKeys?.[this.#tableName]?.Keys;
    }
    // Keys left unprocessed are taken as live: a slot is never taken back on a guess.
    if (keys !== undefined && keys.length > 0) return [];
    return candidates.filter((id) => !live.has(id));
  }

  /** Adds the slot while the owner holds fewer than its cap and not this one; creates the item if there is none. */
  async #tryAdd(owner: CappedOwner, connectionId: string, expiry: number): Promise<boolean> {
    return this.#conditionally(() =>
      this.#client.send(
        new UpdateCommand({ TableName: this.#tableName, ...this.#addition(owner, connectionId, expiry) }),
      ),
    );
  }

  /** The update that adds a slot while its owner holds fewer than its cap and not this one. */
  #addition(owner: CappedOwner, connectionId: string, expiry: number) {
    return {
      Key: owner.key,
      UpdateExpression: 'SET #slot = :expiry, expiresAt = :expiry ADD slotCount :one',
      ConditionExpression: 'attribute_not_exists(#slot) AND (attribute_not_exists(slotCount) OR slotCount < :cap)',
      ExpressionAttributeNames: { '#slot': SLOT_PREFIX + connectionId },
      ExpressionAttributeValues: { ':expiry': expiry, ':one': 1, ':cap': owner.cap },
    };
  }

  async #read(owner: CappedOwner): Promise<Slots> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: owner.key, ConsistentRead: true }),
    );
    const slots: Record<string, number> = {};
    for (const [name, value] of Object.entries(Item ?? {})) {
      if (name.startsWith(SLOT_PREFIX) && typeof value === 'number') slots[name.slice(SLOT_PREFIX.length)] = value;
    }
    const count = Item?.['slotCount'];
    return { slots, count: typeof count === 'number' ? count : 0 };
  }

  /** Removes slots, lowering the count by as many, only while every one of them is there (else nothing). */
  async #drop(owner: CappedOwner, connectionIds: readonly string[]): Promise<void> {
    await this.#conditionally(() =>
      this.#client.send(new UpdateCommand({ TableName: this.#tableName, ...this.#removal(owner, connectionIds) })),
    );
  }

  /** The update that removes slots and lowers the count by as many, on condition that each is there. */
  #removal(owner: CappedOwner, connectionIds: readonly string[]) {
    const names = Object.fromEntries(connectionIds.map((id, i) => [`#c${i}`, SLOT_PREFIX + id]));
    return {
      Key: owner.key,
      UpdateExpression: `REMOVE ${Object.keys(names).join(', ')} ADD slotCount :minus`,
      ConditionExpression: Object.keys(names)
        .map((name) => `attribute_exists(${name})`)
        .join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ':minus': -connectionIds.length },
    };
  }

  /** Sets the count to the slots held, while it is still what was read. */
  async #recount(owner: CappedOwner, seen: number, held: number): Promise<void> {
    await this.#conditionally(() =>
      this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: owner.key,
          UpdateExpression: 'SET slotCount = :held',
          ConditionExpression:
            seen === 0 ? 'attribute_not_exists(slotCount) OR slotCount = :seen' : 'slotCount = :seen',
          ExpressionAttributeValues: { ':held': held, ':seen': seen },
        }),
      ),
    );
  }

  async #releaseOne(owner: CappedOwner, connectionId: string): Promise<void> {
    // Conditional, so that releasing a slot that is not held never creates an item nor lowers the count.
    await this.#drop(owner, [connectionId]);
  }

  /** `true` when the write applied, `false` when its condition failed. */
  async #conditionally(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** The owners whose cap applies, each with its item's key and the refusal it gives. */
  #capped(owners: ConnectionOwners): CappedOwner[] {
    const capped: CappedOwner[] = [];
    if (owners.userId !== undefined && this.#caps.perUser > 0) {
      capped.push({ key: this.#key('user', owners.userId), cap: this.#caps.perUser, refusal: 'user_at_cap' });
    }
    if (owners.sourceIp !== undefined && this.#caps.perIp > 0) {
      capped.push({ key: this.#key('ip', owners.sourceIp), cap: this.#caps.perIp, refusal: 'ip_at_cap' });
    }
    return capped;
  }

  #key(kind: 'user' | 'ip', id: string): CappedOwner['key'] {
    return quotaKey(kind, id);
  }
}
