import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ShardProgress } from '../domain/shard-progress.ts';
import { shardJobItemKey } from './dynamodb-keys.ts';

/** How long a completed job is remembered: far longer than SQS keeps redelivering it (the DLQ takes it first). */
const KEEP_SECONDS = 24 * 3600;

export interface DynamoDbShardProgressOptions {
  readonly tableName: string;
  readonly now?: () => Date;
}

/** One small item per completed shard job, removed by the table's TTL a day later. */
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
        Item: { ...shardJobItemKey(key), expiresAt: Math.floor(this.#now().getTime() / 1000) + KEEP_SECONDS },
      }),
    );
  }
}
