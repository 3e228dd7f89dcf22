import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ShardProgress } from '../domain/shard-progress.ts';
import { shardJobCursorKey, shardJobItemKey } from './dynamodb-keys.ts';

/** How long a completed job is remembered: far longer than SQS keeps redelivering it (the DLQ takes it first). */
const KEEP_SECONDS = 24 * 3600;

export interface DynamoDbShardProgressOptions {
  readonly tableName: string;
  readonly now?: () => Date;
}

/** One small item per completed shard job and one per recorded cursor, removed by the table's TTL a day later. */
export class DynamoDbShardProgress implements ShardProgress {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #now: () => Date;

  constructor(client: DynamoDBDocumentClient, options: DynamoDbShardProgressOptions) {
    this.#client = client;
    this.#tableName = options.tableName;
    this.#now = options.now ?? (() => new Date());
  }

  async isComplete(key: string): Promise<boolean> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: shardJobItemKey(key), ConsistentRead: true }),
    );
    return Item !== undefined;
  }

  async complete(key: string): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: { ...shardJobItemKey(key), expiresAt: this.#expiresAt() },
      }),
    );
  }

  async recordCursor(key: string, after: string): Promise<string> {
    // One write whatever came first, safe to replay: if_not_exists keeps the first cursor, and the answer names it.
    const { Attributes } = await this.#client.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: shardJobCursorKey(key),
        UpdateExpression: 'SET #after = if_not_exists(#after, :after), expiresAt = :expiresAt',
        ExpressionAttributeNames: { '#after': 'after' },
        ExpressionAttributeValues: { ':after': after, ':expiresAt': this.#expiresAt() },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const recorded = Attributes?.['after'];
    if (typeof recorded !== 'string') throw new Error(`the cursor of shard job ${key} came back without one`);
    return recorded;
  }

  #expiresAt(): number {
    return Math.floor(this.#now().getTime() / 1000) + KEEP_SECONDS;
  }
}
