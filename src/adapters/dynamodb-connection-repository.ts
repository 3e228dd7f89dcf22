import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
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
/** The sparse, keys-only index that lists a room's connections; only connection items carry its keys. */
export const ROOM_INDEX = 'byRoom';
/** BatchGetItem reads at most 100 keys per call. */
const BATCH_GET_LIMIT = 100;

/**
 * The index's sort key: the expiry (zero-padded epoch seconds) before the id, so that a key condition skips
 * expired rows without reading them, and a room listing reads nothing but keys.
 */
function roomSortKey(expiresAtSeconds: number, connectionId: string): string {
  return `${String(expiresAtSeconds).padStart(10, '0')}#${connectionId}`;
}

export interface DynamoDbConnectionRepositoryOptions {
  readonly tableName: string;
  /** Query page size; omit to let DynamoDB fill 1 MB pages. */
  readonly pageSize?: number;
  readonly now?: () => Date;
}

type Item = Record<string, unknown>;

function toConnection(item: Item | undefined): Connection | undefined {
  if (item === undefined) return undefined;
  const { pk, room, name, userId, connectedAt, expiresAt } = item;
  if (typeof pk !== 'string' || typeof room !== 'string' || typeof name !== 'string') return undefined;
  if (typeof connectedAt !== 'number' || typeof expiresAt !== 'number') return undefined;
  return {
    id: pk.slice(CONNECTION_PREFIX.length),
    room,
    name,
    ...(typeof userId === 'string' ? { userId } : {}),
    connectedAt: new Date(connectedAt),
    expiresAt: new Date(expiresAt * 1000),
  };
}

/**
 * Stores each connection as one item keyed by its id, with its room as the key of a sparse index: joining
 * a room is one atomic update, and listing a room is a paginated Query on that keys-only index (never a
 * Scan). An epoch-seconds expiry feeds the table's TTL and bounds every read.
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
    const expiresAt = Math.ceil(connection.expiresAt.getTime() / 1000);
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          pk: CONNECTION_PREFIX + connection.id,
          sk: 'connection',
          gsi1pk: ROOM_PREFIX + connection.room,
          gsi1sk: roomSortKey(expiresAt, connection.id),
          room: connection.room,
          name: connection.name,
          ...(connection.userId !== undefined ? { userId: connection.userId } : {}),
          connectedAt: connection.connectedAt.getTime(),
          expiresAt,
        },
      }),
    );
  }

  async get(connectionId: string): Promise<Connection | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: this.#key(connectionId), ConsistentRead: true }),
    );
    const connection = Item?.['retired'] === true ? undefined : toConnection(Item);
    return connection !== undefined && connection.expiresAt.getTime() > this.#now().getTime() ? connection : undefined;
  }

  /**
   * Reads the connection, then writes the change on condition that nobody changed it meanwhile. Reading
   * first keeps the answer right when the SDK replays a write whose first answer was lost: the replay would
   * otherwise report the already-changed item as the one before the change.
   */
  async update(connectionId: string, changes: { room?: string; name?: string }): Promise<ConnectionChange | undefined> {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const before = await this.get(connectionId);
      if (before === undefined) return undefined;
      const after: Connection = {
        ...before,
        ...(changes.room !== undefined ? { room: changes.room } : {}),
        ...(changes.name !== undefined ? { name: changes.name } : {}),
      };
      if (after.room === before.room && after.name === before.name) return { before, after };
      try {
        await this.#client.send(
          new UpdateCommand({
            TableName: this.#tableName,
            Key: this.#key(connectionId),
            UpdateExpression: 'SET room = :room, gsi1pk = :gsi1pk, #name = :name',
            // Applies only to the item as it was read, and never creates an item for a gone connection.
            ConditionExpression:
              'attribute_exists(pk) AND attribute_not_exists(retired) AND room = :beforeRoom AND #name = :beforeName',
            ExpressionAttributeNames: { '#name': 'name' },
            ExpressionAttributeValues: {
              ':room': after.room,
              ':gsi1pk': ROOM_PREFIX + after.room,
              ':name': after.name,
              ':beforeRoom': before.room,
              ':beforeName': before.name,
            },
          }),
        );
        return { before, after };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        // Either a replay of this very write found it applied, or another change came between; read again.
        const now = await this.get(connectionId);
        if (now !== undefined && now.room === after.room && now.name === after.name) return { before, after: now };
      }
    }
    return undefined;
  }

  async retire(connectionId: string): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: this.#key(connectionId),
          // Without its index keys the item leaves the room's listing; its room and name stay for $disconnect.
          UpdateExpression: 'REMOVE gsi1pk, gsi1sk SET retired = :true',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':true': true },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /**
   * Reads the connection, retired or not, then deletes it. A delete's own `ALL_OLD` would come back empty
   * when the SDK replays a delete whose first answer was lost, and the room would never hear the member left.
   */
  async remove(connectionId: string): Promise<Connection | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: this.#key(connectionId), ConsistentRead: true }),
    );
    await this.#client.send(new DeleteCommand({ TableName: this.#tableName, Key: this.#key(connectionId) }));
    return toConnection(Item);
  }

  async *list(room: string): AsyncIterable<readonly string[]> {
    for await (const page of this.#roomPages(room, this.#pageSize)) yield page;
  }

  async members(room: string, limit: number): Promise<readonly Member[]> {
    const ids: string[] = [];
    for await (const page of this.#roomPages(room, Math.min(limit, this.#pageSize ?? limit))) {
      ids.push(...page.slice(0, limit - ids.length));
      if (ids.length >= limit) break;
    }
    const names = new Map<string, string>();
    for (let start = 0; start < ids.length; start += BATCH_GET_LIMIT) {
      let keys: Record<string, unknown>[] | undefined = ids.slice(start, start + BATCH_GET_LIMIT).map((id) => this.#key(id));
      // BatchGetItem may return some keys unprocessed under load; ask again for exactly those.
      for (let attempt = 0; keys !== undefined && keys.length > 0 && attempt < 5; attempt += 1) {
        const result: BatchGetCommandOutput = await this.#client.send(
          new BatchGetCommand({
            RequestItems: {
              [this.#tableName]: { Keys: keys, ProjectionExpression: 'pk, #name', ExpressionAttributeNames: { '#name': 'name' } },
            },
          }),
        );
        for (const item of result.Responses?.[this.#tableName] ?? []) {
          const { pk, name } = item;
          if (typeof pk === 'string' && typeof name === 'string') names.set(pk.slice(CONNECTION_PREFIX.length), name);
        }
        keys = result.UnprocessedKeys?.[this.#tableName]?.Keys;
      }
    }
    // A member that left between the listing and the names is left out.
    return ids.flatMap((id) => {
      const name = names.get(id);
      return name === undefined ? [] : [{ id, name }];
    });
  }

  async *#roomPages(room: string, pageSize: number | undefined): AsyncIterable<string[]> {
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      // Expired rows sort before :from, so the key condition skips them unread; TTL deletion lags up to 48 h.
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: ROOM_INDEX,
          KeyConditionExpression: 'gsi1pk = :room AND gsi1sk >= :from',
          ProjectionExpression: 'pk',
          ExpressionAttributeValues: {
            ':room': ROOM_PREFIX + room,
            ':from': String(this.#nowSeconds() + 1).padStart(10, '0'),
          },
          ExclusiveStartKey: exclusiveStartKey,
          Limit: pageSize,
        }),
      );
      const ids: string[] = [];
      for (const item of page.Items ?? []) {
        const { pk } = item;
        if (typeof pk === 'string' && pk.startsWith(CONNECTION_PREFIX)) ids.push(pk.slice(CONNECTION_PREFIX.length));
      }
      yield ids;
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
