import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Connection } from '../domain/connection.ts';
import type { ConnectionRepository } from '../domain/connection-repository.ts';

/** Every connection is in the lobby until rooms arrive; a room is a partition of the same table. */
const LOBBY_PARTITION = 'room#lobby';
const CONNECTION_PREFIX = 'conn#';

export interface DynamoDbConnectionRepositoryOptions {
  readonly tableName: string;
  /** Query page size; omit to let DynamoDB fill 1 MB pages. */
  readonly pageSize?: number;
  readonly now?: () => Date;
}

/**
 * Stores connections in DynamoDB: one item per connection, partitioned by room so that listing a room is a
 * Query (never a Scan), keyed by connection id, with an epoch-seconds expiry that the table's TTL uses.
 */
export class DynamoDbConnectionRepository implements ConnectionRepository {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #pageSize: number | undefined;
  readonly #now: () => Date;

  constructor(client: DynamoDBDocumentClient, options: DynamoDbConnectionRepositoryOptions) {
    this.#client = client;
    this.#tableName = options.tableName;
    this.#pageSize = options.pageSize;
    this.#now = options.now ?? (() => new Date());
  }

  async save(connection: Connection): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          pk: LOBBY_PARTITION,
          sk: CONNECTION_PREFIX + connection.id,
          connectedAt: connection.connectedAt.getTime(),
          expiresAt: Math.ceil(connection.expiresAt.getTime() / 1000),
        },
      }),
    );
  }

  async remove(connectionId: string): Promise<void> {
    await this.#client.send(
      new DeleteCommand({
        TableName: this.#tableName,
        Key: { pk: LOBBY_PARTITION, sk: CONNECTION_PREFIX + connectionId },
      }),
    );
  }

  async *list(): AsyncIterable<readonly string[]> {
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      // TTL deletion lags (up to 48 h on AWS), so expired rows are filtered here rather than trusted gone.
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: 'pk = :pk',
          FilterExpression: 'expiresAt > :now',
          ProjectionExpression: 'sk',
          ExpressionAttributeValues: { ':pk': LOBBY_PARTITION, ':now': Math.floor(this.#now().getTime() / 1000) },
          ExclusiveStartKey: exclusiveStartKey,
          Limit: this.#pageSize,
        }),
      );
      const ids: string[] = [];
      for (const item of page.Items ?? []) {
        const sk: unknown = item['sk'];
        if (typeof sk === 'string' && sk.startsWith(CONNECTION_PREFIX)) ids.push(sk.slice(CONNECTION_PREFIX.length));
      }
      yield ids;
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
  }
}
