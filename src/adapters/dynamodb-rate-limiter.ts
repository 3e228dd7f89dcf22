import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Admission, RateLimit, RateLimiter } from '../domain/rate-limiter.ts';

export interface DynamoDbRateLimiterOptions {
  readonly tableName: string;
  readonly limit: RateLimit;
  readonly now?: () => Date;
}

/**
 * A fixed-window budget kept on the connection's own item, so every Lambda container sees the same count:
 * each admission is one conditional `UpdateItem` (two when a window rolls over). The attributes are not
 * in the keys-only room index, so counting costs no index writes.
 */
export class DynamoDbRateLimiter implements RateLimiter {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #limit: RateLimit;
  readonly #now: () => Date;

  constructor(client: DynamoDBDocumentClient, options: DynamoDbRateLimiterOptions) {
    this.#client = client;
    this.#tableName = options.tableName;
    this.#limit = options.limit;
    this.#now = options.now ?? (() => new Date());
  }

  async admit(connectionId: string): Promise<Admission> {
    const window = Math.floor(this.#now().getTime() / 1000 / this.#limit.windowSeconds);
    const key = { pk: `conn#${connectionId}`, sk: 'connection' };
    // Within the current window and under budget: count this frame.
    const count = () =>
      this.#tryUpdate(key, 'SET rlCount = rlCount + :one', 'rlWindow = :window AND rlCount < :limit', {
        ':one': 1,
        ':window': window,
        ':limit': this.#limit.frames,
      });
    if (await count()) return 'allowed';
    // A new window (or the first frame ever): start counting afresh. Only an existing connection may count.
    const restarted = await this.#tryUpdate(
      key,
      'SET rlWindow = :window, rlCount = :one',
      'attribute_exists(pk) AND (attribute_not_exists(rlWindow) OR rlWindow < :window)',
      { ':one': 1, ':window': window },
    );
    if (restarted) return 'allowed';
    // A concurrent frame may have started this window between the two updates above: count against it.
    if (await count()) return 'allowed';
    // Over budget, or not a stored connection at all: say so once per window.
    const notified = await this.#tryUpdate(
      key,
      'SET rlNotified = :window',
      'attribute_exists(pk) AND (attribute_not_exists(rlNotified) OR rlNotified <> :window)',
      { ':window': window },
    );
    if (notified) return 'limited-notify';
    // Every condition failed: over budget, or no item at all. A connection that is not registered is
    // admitted, so that the service can tell it so; this read happens only on the refusal path.
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: key, ProjectionExpression: 'pk', ConsistentRead: true }),
    );
    return Item === undefined ? 'allowed' : 'limited';
  }

  /** `true` when the update applied, `false` when its condition failed. */
  async #tryUpdate(
    key: Record<string, string>,
    update: string,
    condition: string,
    values: Record<string, number>,
  ): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: key,
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
