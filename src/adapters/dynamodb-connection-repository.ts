import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Connection, ConnectionChange, Member } from '../domain/connection.ts';
import type { ConnectionRepository } from '../domain/connection-repository.ts';

const CONNECTION_PREFIX = 'conn#';
const ROOM_PREFIX = 'room#';
/** The sparse index that lists a room's connections; only connection items carry its key. */
export const ROOM_INDEX = 'byRoom';

export interface DynamoDbConnectionRepositoryOptions {
  readonly tableName: string;
  /** Query page size; omit to let DynamoDB fill 1 MB pages. */
  readonly pageSize?: number;
  readonly now?: () => Date;
}

type Item = Record<string, unknown>;

function toConnection(item: Item | undefined): Connection | undefined {
  if (item === undefined) return undefined;
  const { pk, room, name, connectedAt, expiresAt } = item;
  if (typeof pk !== 'string' || typeof room !== 'string' || typeof name !== 'string') return undefined;
  if (typeof connectedAt !== 'number' || typeof expiresAt !== 'number') return undefined;
  return {
    id: pk.slice(CONNECTION_PREFIX.length),
    room,
    name,
    connectedAt: new Date(connectedAt),
    expiresAt: new Date(expiresAt * 1000),
  };
}

/**
 * Stores each connection as one item keyed by its id, with its room as the key of a sparse index: joining
 * a room is one atomic update, and listing a room is a paginated Query on that index (never a Scan) that
 * reads only the id and name. An epoch-seconds expiry feeds the table's TTL and filters every read.
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
          pk: CONNECTION_PREFIX + connection.id,
          sk: 'connection',
          gsi1pk: ROOM_PREFIX + connection.room,
          room: connection.room,
          name: connection.name,
          connectedAt: connection.connectedAt.getTime(),
          expiresAt: Math.ceil(connection.expiresAt.getTime() / 1000),
        },
      }),
    );
  }

  async get(connectionId: string): Promise<Connection | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: this.#key(connectionId), ConsistentRead: true }),
    );
    const connection = toConnection(Item);
    return connection !== undefined && connection.expiresAt.getTime() > this.#now().getTime() ? connection : undefined;
  }

  async update(connectionId: string, changes: { room?: string; name?: string }): Promise<ConnectionChange | undefined> {
    if (changes.room === undefined && changes.name === undefined) {
      const unchanged = await this.get(connectionId);
      return unchanged && { before: unchanged, after: unchanged };
    }
    const sets: string[] = [];
    const values: Record<string, unknown> = { ':now': this.#nowSeconds() };
    if (changes.room !== undefined) {
      sets.push('room = :room', 'gsi1pk = :gsi1pk');
      values[':room'] = changes.room;
      values[':gsi1pk'] = ROOM_PREFIX + changes.room;
    }
    if (changes.name !== undefined) {
      sets.push('#name = :name');
      values[':name'] = changes.name;
    }
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: this.#key(connectionId),
          // The condition keeps an update from creating a row for a connection that is gone or expired.
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_exists(pk) AND expiresAt > :now',
          ExpressionAttributeNames: changes.name !== undefined ? { '#name': 'name' } : undefined,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_OLD',
        }),
      );
      const before = toConnection(Attributes);
      if (before === undefined) return undefined;
      const after: Connection = {
        ...before,
        ...(changes.room !== undefined ? { room: changes.room } : {}),
        ...(changes.name !== undefined ? { name: changes.name } : {}),
      };
      return { before, after };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async remove(connectionId: string): Promise<Connection | undefined> {
    const { Attributes } = await this.#client.send(
      new DeleteCommand({ TableName: this.#tableName, Key: this.#key(connectionId), ReturnValues: 'ALL_OLD' }),
    );
    return toConnection(Attributes);
  }

  async *list(room: string): AsyncIterable<readonly Member[]> {
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      // TTL deletion lags (up to 48 h on AWS), so expired rows are filtered here rather than trusted gone.
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: ROOM_INDEX,
          KeyConditionExpression: 'gsi1pk = :room',
          FilterExpression: 'expiresAt > :now',
          ProjectionExpression: 'pk, #name',
          ExpressionAttributeNames: { '#name': 'name' },
          ExpressionAttributeValues: { ':room': ROOM_PREFIX + room, ':now': this.#nowSeconds() },
          ExclusiveStartKey: exclusiveStartKey,
          Limit: this.#pageSize,
        }),
      );
      const members: Member[] = [];
      for (const item of page.Items ?? []) {
        const { pk, name } = item;
        if (typeof pk === 'string' && pk.startsWith(CONNECTION_PREFIX)) {
          members.push({ id: pk.slice(CONNECTION_PREFIX.length), name: typeof name === 'string' ? name : '' });
        }
      }
      yield members;
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
  }

  #key(connectionId: string): { pk: string; sk: string } {
    return { pk: CONNECTION_PREFIX + connectionId, sk: 'connection' };
  }

  #nowSeconds(): number {
    return Math.floor(this.#now().getTime() / 1000);
  }
}
