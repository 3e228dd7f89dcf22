import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type Admission, judge, type RateLimit, type RateLimiter } from '../domain/rate-limiter.ts';
import type { ConnectionSnapshots } from './dynamodb-connection-snapshots.ts';
import { connectionKey, type TableKey } from './dynamodb-keys.ts';

export interface DynamoDbRateLimiterOptions {
  readonly tableName: string;
  readonly limit: RateLimit;
  /**
   * Where the connection item each count returns whole goes, for the frame's own read of its sender (shared with
   * the connection repository): the count and that read in one request.
   */
  readonly snapshots?: ConnectionSnapshots;
  readonly now?: () => Date;
}

/** How many refused connections a container keeps in mind; past it, it forgets them all and asks again. */
const REFUSED_CONNECTIONS_KEPT = 10_000;

/**
 * A fixed-window budget kept on the connection's own item, so every Lambda container sees the same count.
 * A frame costs one `UpdateItem` that adds its weight to the stored window and returns the new count, over
 * budget or not: refusing is the cheapest path, and a connection's first frame starts its first window in that
 * same request. A window rolling over costs one more. A container whose
 * clock is a little behind counts into the newer window another container started. The attributes are not
 * in the keys-only room index, so counting costs no index writes. With `snapshots`, each count returns the item
 * whole and keeps it there, so that the frame's handling reads its sender from it instead of asking again. A
 * connection refused here is refused by this container without a request for the rest of the window.
 */
export class DynamoDbRateLimiter implements RateLimiter {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #limit: RateLimit;
  readonly #now: () => Date;
  readonly #snapshots: ConnectionSnapshots | undefined;
  /** Connections this container saw refused, and in which window: refused again in it without a request. */
  readonly #refused = new Map<string, number>();

  constructor(client: DynamoDBDocumentClient, options: DynamoDbRateLimiterOptions) {
    this.#client = client;
    this.#tableName = options.tableName;
    this.#limit = options.limit;
    this.#snapshots = options.snapshots;
    this.#now = options.now ?? (() => new Date());
  }

  async admit(connectionId: string, weight = 1): Promise<Admission> {
    const window = Math.floor(this.#now().getTime() / 1000 / this.#limit.windowSeconds);
    const key = connectionKey(connectionId);
    this.#snapshots?.forget(connectionId);
    const refusedIn = this.#refused.get(connectionId);
    if (refusedIn !== undefined) {
      if (refusedIn >= window) return 'limited';
      this.#refused.delete(connectionId);
    }
    const counted = await this.#count(connectionId, key, window, weight);
    if (counted !== undefined) return this.#judged(connectionId, window, judge(counted, weight, this.#limit));
    // A new window: start counting afresh. Only an existing connection may count.
    if (await this.#restart(connectionId, key, window, weight)) return judge(weight, weight, this.#limit);
    // A concurrent frame started this window (or a newer one) between the two updates above: count against it.
    const recounted = await this.#count(connectionId, key, window, weight);
    // Neither a stored window nor a stored connection: admitted, so that the service can say it is unknown.
    return recounted === undefined
      ? 'allowed'
      : this.#judged(connectionId, window, judge(recounted, weight, this.#limit));
  }

  /** Keeps a refusal in mind for the rest of its window: the connection's next frames there cost no request. */
  #judged(connectionId: string, window: number, admission: Admission): Admission {
    if (admission === 'allowed') return admission;
    if (this.#refused.size >= REFUSED_CONNECTIONS_KEPT) this.#refused.clear();
    this.#refused.set(connectionId, window);
    return admission;
  }

  /**
   * Adds the weight to the stored window when it is this one or a newer one, or starts the first window of a
   * connection that has none; the new count, or `undefined`.
   */
  async #count(connectionId: string, key: TableKey, window: number, weight: number): Promise<number | undefined> {
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: key,
          // A connection's first frame starts its first window in the same request.
          UpdateExpression: 'SET rlWindow = if_not_exists(rlWindow, :window) ADD rlCount :weight',
          ConditionExpression: 'rlWindow >= :window OR (attribute_exists(pk) AND attribute_not_exists(rlWindow))',
          ExpressionAttributeValues: { ':weight': weight, ':window': window },
          ReturnValues: this.#snapshots === undefined ? 'UPDATED_NEW' : 'ALL_NEW',
        }),
      );
      if (this.#snapshots !== undefined && Attributes !== undefined) this.#snapshots.keep(connectionId, Attributes);
      const count = Attributes?.['rlCount'];
      if (typeof count !== 'number') throw new Error(`the rate-limit counter of ${key['pk']} returned no number`);
      return count;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async #restart(connectionId: string, key: TableKey, window: number, weight: number): Promise<boolean> {
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: key,
          UpdateExpression: 'SET rlWindow = :window, rlCount = :weight',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(rlWindow) OR rlWindow < :window)',
          ExpressionAttributeValues: { ':weight': weight, ':window': window },
          ...(this.#snapshots === undefined ? {} : { ReturnValues: 'ALL_NEW' as const }),
        }),
      );
      if (this.#snapshots !== undefined && Attributes !== undefined) this.#snapshots.keep(connectionId, Attributes);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
