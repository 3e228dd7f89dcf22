import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection, ConnectionChange, ConnectionChanges, Member, MemberPage } from '../domain/connection.ts';
import type { ConnectionRepository } from '../domain/connection-repository.ts';
import { ConcurrentChangeError, InvalidCursorError } from '../domain/errors.ts';
import {
  connectionIdOfKey,
  connectionKey,
  expiryKey,
  ROOM_INDEX,
  roomIndexKey,
  roomSortKey,
  type TableKey,
} from './dynamodb-keys.ts';

/** A roster cursor: the listing's expiry cut-off, then the room index's sort key of the page's last member. */
const CURSOR = /^(\d{10})\.(\d{10}#(.+))$/;

/** Where the page after a roster cursor starts; throws for a cursor this adapter did not give. */
function pageAfter(room: string, cursor: string): { from: string; start: Record<string, unknown> } {
  const match = CURSOR.exec(cursor);
  const [, from, sortKey, id] = match ?? [];
  if (from === undefined || sortKey === undefined || id === undefined || sortKey < from) {
    throw new InvalidCursorError(cursor);
  }
  return { from, start: { gsi1pk: roomIndexKey(room), gsi1sk: sortKey, ...connectionKey(id) } };
}

/** BatchGetItem reads at most 100 keys per call. */
const BATCH_GET_LIMIT = 100;
/**
 * Each failed attempt of an update means another change won, so this many concurrent changes of one
 * connection all apply; past it the caller is told the truth rather than that the connection is unknown.
 */
const UPDATE_ATTEMPTS = 8;
/** Applies to the item only as it was read: the same revision, not retired, not being removed. */
const AS_READ =
  'attribute_exists(pk) AND attribute_not_exists(retired) AND attribute_not_exists(removedBy) AND (attribute_not_exists(rev) OR rev = :rev)';

export interface DynamoDbConnectionRepositoryOptions {
  readonly tableName: string;
  /** Query page size; omit to let DynamoDB fill 1 MB pages. */
  readonly pageSize?: number;
  readonly now?: () => Date;
}

type Item = Record<string, unknown>;

function toConnection(item: Item | undefined): Connection | undefined {
  if (item === undefined) return undefined;
  const { pk, room, name, userId, connectedAt, expiresAt, rev, announced } = item;
  if (typeof pk !== 'string' || typeof room !== 'string' || typeof name !== 'string') return undefined;
  if (typeof connectedAt !== 'number' || typeof expiresAt !== 'number') return undefined;
  return {
    id: connectionIdOfKey(pk) ?? pk,
    room,
    name,
    ...(typeof userId === 'string' ? { userId } : {}),
    connectedAt: new Date(connectedAt),
    expiresAt: new Date(expiresAt * 1000),
    // Rows written before revisions existed count as revision 0, never announced.
    revision: typeof rev === 'number' ? rev : 0,
    announced: announced === true,
  };
}

/** A token that tells this write apart from a concurrent one, when the SDK replays it. */
function newChangeId(): string {
  return globalThis.crypto.randomUUID();
}

/** Jittered, growing pauses between attempts, so that racing writers spread out. */
function backoff(attempt: number): Promise<void> {
  return sleep(Math.random() * 5 * (attempt + 1));
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
          ...connectionKey(connection.id),
          gsi1pk: roomIndexKey(connection.room),
          gsi1sk: roomSortKey(expiresAt, connection.id),
          room: connection.room,
          name: connection.name,
          ...(connection.userId !== undefined ? { userId: connection.userId } : {}),
          connectedAt: connection.connectedAt.getTime(),
          expiresAt,
          rev: connection.revision,
          announced: connection.announced,
        },
      }),
    );
  }

  async get(connectionId: string): Promise<Connection | undefined> {
    const item = await this.#read(connectionId);
    const connection = item?.['retired'] === true || item?.['removedBy'] !== undefined ? undefined : toConnection(item);
    return connection !== undefined && connection.expiresAt.getTime() > this.#now().getTime() ? connection : undefined;
  }

  /**
   * Reads the connection, then writes the change on condition that its revision is still the one read.
   * A write whose condition fails is either a replay by the SDK of this very write (its first answer lost),
   * recognised by the change id it wrote, or lost to another change: then it is made again on top of that.
   */
  async update(connectionId: string, changes: ConnectionChanges): Promise<ConnectionChange | undefined> {
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt += 1) {
      const before = await this.get(connectionId);
      if (before === undefined) return undefined;
      const after: Connection = {
        ...before,
        ...(changes.room !== undefined ? { room: changes.room } : {}),
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.announced !== undefined ? { announced: changes.announced } : {}),
        revision: before.revision + 1,
      };
      if (after.room === before.room && after.name === before.name && after.announced === before.announced) {
        return { before, after: before };
      }
      const changeId = newChangeId();
      try {
        await this.#client.send(
          new UpdateCommand({
            TableName: this.#tableName,
            Key: this.#key(connectionId),
            UpdateExpression:
              'SET room = :room, gsi1pk = :gsi1pk, #name = :name, announced = :announced, rev = :next, changeId = :changeId',
            ConditionExpression: AS_READ,
            ExpressionAttributeNames: { '#name': 'name' },
            ExpressionAttributeValues: {
              ':room': after.room,
              ':gsi1pk': roomIndexKey(after.room),
              ':name': after.name,
              ':announced': after.announced,
              ':next': after.revision,
              ':changeId': changeId,
              ':rev': before.revision,
            },
          }),
        );
        return { before, after };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const now = await this.#read(connectionId);
        if (now?.['changeId'] === changeId) return { before, after };
        await backoff(attempt);
      }
    }
    throw new ConcurrentChangeError(connectionId);
  }

  async retire(connectionId: string, connectedBefore: Date): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: this.#key(connectionId),
          // Without its index keys the item leaves the room's listing; its room and name stay for $disconnect.
          UpdateExpression: 'REMOVE gsi1pk, gsi1sk SET retired = :true',
          ConditionExpression: 'attribute_exists(pk) AND connectedAt < :cutoff',
          ExpressionAttributeValues: { ':true': true, ':cutoff': connectedBefore.getTime() },
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return false;
    }
  }

  /**
   * Marks the connection as being removed, on condition that nobody changed or removed it since it was
   * read, then deletes it. The mark names this removal, so a replayed write is recognised as its own and a
   * racing removal returns nothing: the room hears the member leave once, from the room it was last in.
   */
  async remove(connectionId: string): Promise<Connection | undefined> {
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt += 1) {
      const item = await this.#read(connectionId);
      const connection = toConnection(item);
      if (connection === undefined || item?.['removedBy'] !== undefined) return undefined;
      const removal = newChangeId();
      try {
        await this.#client.send(
          new UpdateCommand({
            TableName: this.#tableName,
            Key: this.#key(connectionId),
            UpdateExpression: 'REMOVE gsi1pk, gsi1sk SET removedBy = :removal',
            ConditionExpression:
              'attribute_exists(pk) AND attribute_not_exists(removedBy) AND (attribute_not_exists(rev) OR rev = :rev)',
            ExpressionAttributeValues: { ':removal': removal, ':rev': connection.revision },
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        if ((await this.#read(connectionId))?.['removedBy'] !== removal) {
          await backoff(attempt);
          continue;
        }
      }
      await this.#client.send(new DeleteCommand({ TableName: this.#tableName, Key: this.#key(connectionId) }));
      return connection;
    }
    throw new ConcurrentChangeError(connectionId);
  }

  async *list(room: string): AsyncIterable<readonly string[]> {
    for await (const page of this.#roomPages(room, this.#pageSize)) yield page;
  }

  async members(room: string, limit: number, after?: string): Promise<MemberPage> {
    // One expiry cut-off for every page of a roster, carried in its cursors (see #roomPages).
    const { from, start } =
      after === undefined ? { from: expiryKey(this.#nowSeconds() + 1), start: undefined } : pageAfter(room, after);
    const listed: { id: string; sortKey: string }[] = [];
    let next: Record<string, unknown> | undefined = start;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: ROOM_INDEX,
          KeyConditionExpression: 'gsi1pk = :room AND gsi1sk >= :from',
          ProjectionExpression: 'pk, gsi1sk',
          ExpressionAttributeValues: { ':room': roomIndexKey(room), ':from': from },
          Limit: limit - listed.length,
          ...(next !== undefined ? { ExclusiveStartKey: next } : {}),
        }),
      );
      for (const { pk, gsi1sk } of (page.Items ?? []).slice(0, limit - listed.length)) {
        const id = typeof pk === 'string' ? connectionIdOfKey(pk) : undefined;
        if (id !== undefined && typeof gsi1sk === 'string') listed.push({ id, sortKey: gsi1sk });
      }
      next = page.LastEvaluatedKey;
    } while (next !== undefined && listed.length < limit);
    const found = await this.#namesOf(listed.map(({ id }) => id));
    const last = listed.at(-1);
    // A member that left between the listing and the names is left out.
    return {
      members: listed.flatMap(({ id }) => found.get(id) ?? []),
      ...(next !== undefined && last !== undefined ? { next: `${from}.${last.sortKey}` } : {}),
    };
  }

  async #namesOf(ids: readonly string[]): Promise<Map<string, Member>> {
    const members = new Map<string, Member>();
    for (let start = 0; start < ids.length; start += BATCH_GET_LIMIT) {
      let keys: Record<string, unknown>[] | undefined = ids
        .slice(start, start + BATCH_GET_LIMIT)
        .map((id) => ({ ...this.#key(id) }));
      // BatchGetItem may return some keys unprocessed under load; ask again for exactly those.
      for (let attempt = 0; keys !== undefined && keys.length > 0 && attempt < 5; attempt += 1) {
        const result: BatchGetCommandOutput = await this.#client.send(
          new BatchGetCommand({
            RequestItems: {
              [this.#tableName]: {
                Keys: keys,
                ProjectionExpression: 'pk, #name, rev, retired',
                ExpressionAttributeNames: { '#name': 'name' },
              },
            },
          }),
        );
        for (const item of result.Responses?.[this.#tableName] ?? []) {
          const { pk, name, rev, retired } = item;
          const id = typeof pk === 'string' ? connectionIdOfKey(pk) : undefined;
          if (id !== undefined && typeof name === 'string' && retired === undefined) {
            members.set(id, { id, name, revision: typeof rev === 'number' ? rev : 0 });
          }
        }
        keys = result.UnprocessedKeys?.[this.#tableName]?.Keys;
      }
    }
    return members;
  }

  async *#roomPages(room: string, pageSize: number | undefined): AsyncIterable<string[]> {
    // One cut-off for the whole listing: a later page's key condition must still hold for the key the
    // previous page stopped at, or DynamoDB refuses the start key when that row expired in between.
    const from = expiryKey(this.#nowSeconds() + 1);
    const pages = paginateQuery(
      { client: this.#client, ...(pageSize !== undefined ? { pageSize } : {}) },
      {
        TableName: this.#tableName,
        IndexName: ROOM_INDEX,
        // Expired rows sort before :from, so the key condition skips them unread; TTL deletion lags up to 48 h.
        KeyConditionExpression: 'gsi1pk = :room AND gsi1sk >= :from',
        ProjectionExpression: 'pk',
        ExpressionAttributeValues: { ':room': roomIndexKey(room), ':from': from },
      },
    );
    for await (const page of pages) {
      const ids: string[] = [];
      for (const item of page.Items ?? []) {
        const { pk } = item;
        const id = typeof pk === 'string' ? connectionIdOfKey(pk) : undefined;
        if (id !== undefined) ids.push(id);
      }
      yield ids;
    }
  }

  async #read(connectionId: string): Promise<Item | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: this.#key(connectionId), ConsistentRead: true }),
    );
    return Item;
  }

  #key(connectionId: string): TableKey {
    return connectionKey(connectionId);
  }

  #nowSeconds(): number {
    return Math.floor(this.#now().getTime() / 1000);
  }
}
