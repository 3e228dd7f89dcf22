import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { PresenceRecord } from '../domain/presence.ts';
import { presenceRecordWrites } from './dynamodb-presence-log.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection, ConnectionChange, ConnectionChanges, Member, MemberPage } from '../domain/connection.ts';
import type { ConnectionRepository, ShardPage } from '../domain/connection-repository.ts';
import { shardOf } from '../domain/room-shards.ts';
import type { ConnectionSnapshots } from './dynamodb-connection-snapshots.ts';
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

/**
 * A cursor of a shard's listing: the listing's expiry cut-off (one for all its pages: a later page's key
 * condition must still hold for the key the previous one stopped at), then the room index's sort key of the
 * page's last member. A roster cursor puts the shard in front; without a sort key it starts that shard.
 */
const SHARD_CURSOR = /^(\d{10})\.(\d{10}#(.+))$/;
const ROSTER_CURSOR = /^(\d{1,4})\.(\d{10})(?:\.(\d{10}#.+))?$/;

interface ShardStart {
  readonly from: string;
  readonly start?: Record<string, unknown>;
}

/** Where the page after a shard cursor starts; throws for a cursor this adapter did not give. */
function shardPageAfter(room: string, shard: number, cursor: string): ShardStart {
  const [, from, sortKey, id] = SHARD_CURSOR.exec(cursor) ?? [];
  if (from === undefined || sortKey === undefined || id === undefined || sortKey < from) {
    throw new InvalidCursorError(cursor);
  }
  return { from, start: { gsi1pk: roomIndexKey(room, shard), gsi1sk: sortKey, ...connectionKey(id) } };
}

/**
 * A start no lower than the cut-off `cutOff`. A roster cursor comes back from a client, which may have kept it
 * for a while or forged it, so its cut-off is raised to the current one. DynamoDB refuses an ExclusiveStartKey
 * that fails the key condition; every row between such a key and the cut-off has expired, so the page then
 * starts at the cut-off.
 */
function notBelow(at: ShardStart, cutOff: string): ShardStart {
  if (at.from >= cutOff) return at;
  const startKey = at.start?.['gsi1sk'];
  return typeof startKey === 'string' && startKey >= cutOff ? { from: cutOff, start: at.start } : { from: cutOff };
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
/** Applies to the item only at the revision it was read at, retired or not (a legacy removal mark is ignored). */
const AT_REVISION = 'attribute_exists(pk) AND (attribute_not_exists(rev) OR rev = :rev)';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** How a conditional write of a connection with its presence records ended. */
type WriteOutcome = 'applied' | 'condition_failed' | 'conflict';

export interface DynamoDbConnectionRepositoryOptions {
  readonly tableName: string;
  /** How many shards each room's index is split into (1 by default); see {@link shardOf}. */
  readonly shards?: number;
  /** Query page size; omit to let DynamoDB fill 1 MB pages. */
  readonly pageSize?: number;
  /** Connection items the rate limiter's counts just returned (see {@link ConnectionSnapshots}), read before asking. */
  readonly snapshots?: ConnectionSnapshots;
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
  readonly #snapshots: ConnectionSnapshots | undefined;
  readonly shards: number;

  constructor(client: DynamoDBDocumentClient, options: DynamoDbConnectionRepositoryOptions) {
    this.#client = client;
    this.#snapshots = options.snapshots;
    this.#tableName = options.tableName;
    this.shards = options.shards ?? 1;
    this.#pageSize = options.pageSize;
    this.#now = options.now ?? (() => new Date());
  }

  async save(connection: Connection, records: readonly PresenceRecord[] = []): Promise<void> {
    const expiresAt = Math.ceil(connection.expiresAt.getTime() / 1000);
    const changeId = newChangeId();
    const put: TransactItem = {
      Put: {
        TableName: this.#tableName,
        Item: {
          ...connectionKey(connection.id),
          gsi1pk: roomIndexKey(connection.room, shardOf(connection.id, this.shards)),
          gsi1sk: roomSortKey(expiresAt, connection.id),
          room: connection.room,
          name: connection.name,
          ...(connection.userId !== undefined ? { userId: connection.userId } : {}),
          connectedAt: connection.connectedAt.getTime(),
          expiresAt,
          rev: connection.revision,
          announced: connection.announced,
          changeId,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt += 1) {
      const outcome = await this.#write(put, records);
      if (outcome === 'applied') return;
      if (outcome === 'condition_failed') {
        // The SDK replayed this very save after its answer was lost, or the id is taken.
        if ((await this.#read(connection.id))?.['changeId'] === changeId) return;
        throw new Error(`connection ${connection.id} is stored already`);
      }
      await backoff(attempt);
    }
    throw new ConcurrentChangeError(connection.id);
  }

  async get(connectionId: string): Promise<Connection | undefined> {
    // The item the frame's rate count returned a moment ago, when there is one: as fresh as a read made then.
    const item = this.#snapshots?.take(connectionId) ?? (await this.#read(connectionId));
    const connection = item?.['retired'] === true || item?.['removedBy'] !== undefined ? undefined : toConnection(item);
    return connection !== undefined && connection.expiresAt.getTime() > this.#now().getTime() ? connection : undefined;
  }

  /**
   * Reads the connection, then writes the change on condition that its revision is still the one read.
   * A write whose condition fails is either a replay by the SDK of this very write (its first answer lost),
   * recognised by the change id it wrote, or lost to another change: then it is made again on top of that.
   */
  async update(
    connectionId: string,
    changes: ConnectionChanges,
    recordsOf: (change: ConnectionChange) => readonly PresenceRecord[] = () => [],
  ): Promise<ConnectionChange | undefined> {
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
      const write: TransactItem = {
        Update: {
          TableName: this.#tableName,
          Key: this.#key(connectionId),
          UpdateExpression:
            'SET room = :room, gsi1pk = :gsi1pk, #name = :name, announced = :announced, rev = :next, changeId = :changeId',
          ConditionExpression: AS_READ,
          ExpressionAttributeNames: { '#name': 'name' },
          ExpressionAttributeValues: {
            ':room': after.room,
            ':gsi1pk': roomIndexKey(after.room, shardOf(after.id, this.shards)),
            ':name': after.name,
            ':announced': after.announced,
            ':next': after.revision,
            ':changeId': changeId,
            ':rev': before.revision,
          },
        },
      };
      const outcome = await this.#write(write, recordsOf({ before, after }));
      if (outcome === 'applied') return { before, after };
      if (outcome === 'condition_failed' && (await this.#read(connectionId))?.['changeId'] === changeId) {
        return { before, after };
      }
      await backoff(attempt);
    }
    throw new ConcurrentChangeError(connectionId);
  }

  /**
   * Reads the connection, then retires it at the revision read, with its records: out of every listing (its index
   * keys removed), its revision raised, its room and name kept for its $disconnect. A replay is recognised by the
   * change id it wrote; a change that won meanwhile makes it try again on top of that.
   */
  async retire(
    connectionId: string,
    connectedBefore: Date,
    recordsOf: (retired: Connection) => readonly PresenceRecord[] = () => [],
  ): Promise<boolean> {
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt += 1) {
      const item = await this.#read(connectionId);
      const connection = toConnection(item);
      if (connection === undefined || item?.['retired'] === true || item?.['removedBy'] !== undefined) return false;
      if (connection.connectedAt.getTime() >= connectedBefore.getTime()) return false;
      const retired = { ...connection, revision: connection.revision + 1 };
      const changeId = newChangeId();
      const write: TransactItem = {
        Update: {
          TableName: this.#tableName,
          Key: this.#key(connectionId),
          UpdateExpression: 'REMOVE gsi1pk, gsi1sk SET retired = :true, rev = :next, changeId = :changeId',
          ConditionExpression: AS_READ,
          ExpressionAttributeValues: {
            ':true': true,
            ':next': retired.revision,
            ':changeId': changeId,
            ':rev': connection.revision,
          },
        },
      };
      const outcome = await this.#write(write, recordsOf(retired));
      if (outcome === 'applied') return true;
      if (outcome === 'condition_failed' && (await this.#read(connectionId))?.['changeId'] === changeId) return true;
      await backoff(attempt);
    }
    throw new ConcurrentChangeError(connectionId);
  }

  /**
   * Reads the connection, then deletes it at the revision read, with its records unless it was retired (its
   * retirement kept them). Of racing removals the one whose delete applies returns the connection; a delete that
   * finds the row gone returns nothing (the row's leave was kept by whichever removal deleted it, this one's replay
   * included); a change that won meanwhile makes it try again on top of that.
   */
  async remove(
    connectionId: string,
    recordsOf: (connection: Connection) => readonly PresenceRecord[] = () => [],
  ): Promise<Connection | undefined> {
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt += 1) {
      const item = await this.#read(connectionId);
      const connection = toConnection(item);
      if (item === undefined || connection === undefined) return undefined;
      const write: TransactItem = {
        Delete: {
          TableName: this.#tableName,
          Key: this.#key(connectionId),
          ConditionExpression: AT_REVISION,
          ExpressionAttributeValues: { ':rev': connection.revision },
        },
      };
      const outcome = await this.#write(write, item['retired'] === true ? [] : recordsOf(connection));
      if (outcome === 'applied') return connection;
      await backoff(attempt);
    }
    throw new ConcurrentChangeError(connectionId);
  }

  /**
   * Writes one change of a connection item with the presence records it causes: alone when there are none, else
   * in one transaction (the SDK gives it a client token, so a replay after a lost answer applies once).
   */
  async #write(write: TransactItem, records: readonly PresenceRecord[]): Promise<WriteOutcome> {
    const pk = (write.Put?.Item ?? write.Update?.Key ?? write.Delete?.Key)?.['pk'];
    const connectionId = typeof pk === 'string' ? connectionIdOfKey(pk) : undefined;
    if (connectionId !== undefined) this.#snapshots?.forget(connectionId);
    try {
      if (records.length === 0) {
        const { Put, Update, Delete } = write;
        if (Put !== undefined) await this.#client.send(new PutCommand(Put));
        else if (Update !== undefined) await this.#client.send(new UpdateCommand(Update));
        else if (Delete !== undefined) await this.#client.send(new DeleteCommand(Delete));
        return 'applied';
      }
      await this.#client.send(
        new TransactWriteCommand({
          TransactItems: [write, ...presenceRecordWrites(this.#tableName, records, this.shards, this.#now())],
        }),
      );
      return 'applied';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'condition_failed';
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      if (reasons[0]?.Code === 'ConditionalCheckFailed') return 'condition_failed';
      if (reasons.some(({ Code }) => Code === 'TransactionConflict')) return 'conflict';
      throw error;
    }
  }

  /**
   * Every shard's listing at once: the first Query of each shard goes out together, and a shard's next page is
   * asked for once the consumer wants more after that shard's page. A small room's listing costs one round trip,
   * not one per shard (8 shards one after another added 8 round trips to every message). So a change made while
   * one page is handled can miss another shard's page already read; the fan-out finds such a member gone.
   */
  list(room: string): AsyncIterable<readonly string[]> {
    return interleaved(Array.from({ length: this.shards }, (_, shard) => this.#roomPages(room, shard, this.#pageSize)));
  }

  async listShard(room: string, shard: number, limit: number, after?: string): Promise<ShardPage> {
    const at = after === undefined ? { from: this.#cutOff() } : shardPageAfter(room, shard, after);
    const { listed, more } = await this.#shardPage(room, shard, limit, at);
    const last = listed.at(-1);
    return {
      ids: listed.map(({ id }) => id),
      ...(more && last !== undefined ? { next: `${at.from}.${last.sortKey}` } : {}),
    };
  }

  async members(room: string, limit: number, after?: string): Promise<MemberPage> {
    let shard = 0;
    let at: ShardStart = { from: this.#cutOff() };
    if (after !== undefined) {
      const [, shardText, from, sortKey] = ROSTER_CURSOR.exec(after) ?? [];
      shard = Number(shardText);
      if (from === undefined || !(shard < this.shards)) throw new InvalidCursorError(after);
      at = notBelow(
        sortKey === undefined ? { from } : shardPageAfter(room, shard, `${from}.${sortKey}`),
        this.#cutOff(),
      );
    }
    // Shard after shard, until the page is full: the cursor names where the next page starts.
    const listed: { id: string; sortKey: string }[] = [];
    let next: string | undefined;
    for (; shard < this.shards && listed.length < limit; shard += 1, at = { from: at.from }) {
      const page = await this.#shardPage(room, shard, limit - listed.length, at);
      listed.push(...page.listed);
      const last = page.listed.at(-1);
      if (page.more && last !== undefined) next = `${shard}.${at.from}.${last.sortKey}`;
      else if (listed.length >= limit && shard + 1 < this.shards) next = `${shard + 1}.${at.from}`;
    }
    const found = await this.#namesOf(listed.map(({ id }) => id));
    // A member that left between the listing and the names is left out.
    return { members: listed.flatMap(({ id }) => found.get(id) ?? []), ...(next !== undefined ? { next } : {}) };
  }

  /** Up to `limit` members of one shard from `at`, and whether the shard may have more. */
  async #shardPage(
    room: string,
    shard: number,
    limit: number,
    at: ShardStart,
  ): Promise<{ listed: { id: string; sortKey: string }[]; more: boolean }> {
    const listed: { id: string; sortKey: string }[] = [];
    let next: Record<string, unknown> | undefined = at.start;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: ROOM_INDEX,
          KeyConditionExpression: 'gsi1pk = :room AND gsi1sk >= :from',
          ProjectionExpression: 'pk, gsi1sk',
          ExpressionAttributeValues: { ':room': roomIndexKey(room, shard), ':from': at.from },
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
    return { listed, more: next !== undefined };
  }

  /** Rows that expire before this are skipped unread by every listing (TTL deletion lags up to 48 h). */
  #cutOff(): string {
    return expiryKey(this.#nowSeconds() + 1);
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

  async *#roomPages(room: string, shard: number, pageSize: number | undefined): AsyncIterable<string[]> {
    // One cut-off for the whole listing: a later page's key condition must still hold for the key the
    // previous page stopped at, or DynamoDB refuses the start key when that row expired in between.
    const from = this.#cutOff();
    const pages = paginateQuery(
      { client: this.#client, ...(pageSize !== undefined ? { pageSize } : {}) },
      {
        TableName: this.#tableName,
        IndexName: ROOM_INDEX,
        // Expired rows sort before :from, so the key condition skips them unread; TTL deletion lags up to 48 h.
        KeyConditionExpression: 'gsi1pk = :room AND gsi1sk >= :from',
        ProjectionExpression: 'pk',
        ExpressionAttributeValues: { ':room': roomIndexKey(room, shard), ':from': from },
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

/**
 * The items of several async sources in the order they arrive: every source is asked at once, and each again
 * when the consumer wants more after its item. When the consumer stops early or a source fails, the others close.
 */
export async function* interleaved<T>(sources: readonly AsyncIterable<T>[]): AsyncIterable<T> {
  const iterators = sources.map((source) => source[Symbol.asyncIterator]());
  type Step = { readonly index: number; readonly result: IteratorResult<T> };
  const pending = new Map<number, Promise<Step>>();
  /** Sources not yet done, the one whose item the consumer holds included. */
  const open = new Set(sources.keys());
  const ask = (index: number, iterator: AsyncIterator<T>): void => {
    const step = iterator.next().then((result) => ({ index, result }));
    // A source's failure is seen through the race below; one that fails after the listing ended is not unhandled.
    step.catch(() => undefined);
    pending.set(index, step);
  };
  iterators.forEach((iterator, index) => ask(index, iterator));
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      pending.delete(index);
      if (result.done === true) {
        open.delete(index);
        continue;
      }
      yield result.value;
      // Only once the consumer wants more: a page read after it handled this one leaves out what it removed.
      const iterator = iterators[index];
      if (iterator !== undefined) ask(index, iterator);
    }
  } finally {
    await Promise.allSettled([...open].map((index) => iterators[index]?.return?.()));
  }
}
