import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  paginateQuery,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Member, MemberPage } from '../domain/connection.ts';
import type { ShardPage } from '../domain/connection-repository.ts';
import { InvalidCursorError } from '../domain/errors.ts';
import { connectionIdOfKey, connectionKey, expiryKey, ROOM_INDEX, roomIndexKey } from './dynamodb-keys.ts';
import { grownShardsOf } from './dynamodb-room-growth.ts';

/**
 * A cursor of a shard's listing (only queue jobs carry them): the listing's expiry cut-off (one for all its pages: a
 * later page's key condition must still hold for the key the previous one stopped at), then the room index's sort
 * key of the page's last member.
 */
const SHARD_CURSOR = /^(\d{10})\.(\d{10}#(.+))$/;
/**
 * A roster cursor comes back from a client, so it names where the next page starts and nothing more: the shard,
 * then the room index's sort key of the page's last member (none: the shard's start). Every page takes the current
 * expiry cut-off, so no cursor, kept or forged, can list a row that has expired.
 */
const ROSTER_CURSOR = /^(\d{1,4})(?:\.(\d{10}#(.+)))?$/;

/** BatchGetItem reads at most 100 keys per call. */
const BATCH_GET_LIMIT = 100;

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

/** One page of a shard's listing: its members' ids, and the shards the room grew into when it held the marker. */
interface ListedPage {
  readonly ids: string[];
  readonly grownShards?: number;
}

export interface DynamoDbRoomListingOptions {
  readonly tableName: string;
  /** The shards a room grows into: the most a roster cursor may name. */
  readonly shards: number;
  /** Query page size; omit to let DynamoDB fill 1 MB pages. */
  readonly pageSize?: number;
  readonly now: () => Date;
}

/**
 * The read side of the connections: a room's members, from the sparse keys-only room index, shard by shard
 * (see `RoomGrowth`: a small room is all in shard 0, and a grown room's marker ends shard 0 and names its shards).
 * Expired rows sort before the cut-off, so every key condition skips them unread (TTL deletion lags up to 48 h).
 */
export class DynamoDbRoomListing {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #shards: number;
  readonly #pageSize: number | undefined;
  readonly #now: () => Date;

  constructor(client: DynamoDBDocumentClient, options: DynamoDbRoomListingOptions) {
    this.#client = client;
    this.#tableName = options.tableName;
    this.#shards = options.shards;
    this.#pageSize = options.pageSize;
    this.#now = options.now;
  }

  /**
   * Shard 0 first: a small room's listing is that one Query (a room listed here is at most the fan-out's shard size,
   * so shard 0 is one page). A grown room's marker ends shard 0; then every other shard is asked at once, and a
   * shard's next page once the consumer wants more after that shard's page. So a change made while one page is
   * handled can miss another shard's page already read; the fan-out finds such a member gone.
   */
  async *list(room: string): AsyncIterable<readonly string[]> {
    // One cut-off for the whole listing: a later page's key condition must still hold for the key the previous
    // page stopped at, or DynamoDB refuses the start key when that row expired in between.
    const from = this.#cutOff();
    let grownShards: number | undefined;
    for await (const page of this.#roomPages(room, 0, from)) {
      grownShards ??= page.grownShards;
      yield page.ids;
    }
    if (grownShards === undefined || grownShards <= 1) return;
    const others: AsyncIterable<ListedPage>[] = [];
    for (let shard = 1; shard < grownShards; shard += 1) others.push(this.#roomPages(room, shard, from));
    for await (const page of interleaved(others)) yield page.ids;
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

  /**
   * Shard after shard, oldest first, until the page is full; shard 0 ends with a grown room's marker, which says
   * how many shards follow. A cursor names where the next page starts.
   */
  async members(room: string, limit: number, after?: string): Promise<MemberPage> {
    const cutOff = this.#cutOff();
    let shard = 0;
    let at: ShardStart = { from: cutOff };
    if (after !== undefined) {
      const [, shardText, sortKey, id] = ROSTER_CURSOR.exec(after) ?? [];
      shard = Number(shardText);
      if (shardText === undefined || !(shard < this.#shards)) throw new InvalidCursorError(after);
      // DynamoDB refuses a start key that fails the key condition; every row up to the cut-off has expired since
      // the page before, so the page then starts at the cut-off.
      if (sortKey !== undefined && id !== undefined && sortKey >= cutOff) {
        at = { from: cutOff, start: { gsi1pk: roomIndexKey(room, shard), gsi1sk: sortKey, ...connectionKey(id) } };
      }
    }
    // Past shard 0 the room has grown: its cursor came from a listing that met the marker.
    let shards = shard > 0 ? this.#shards : 1;
    const listed: { id: string; sortKey: string }[] = [];
    let next: string | undefined;
    for (; shard < shards && listed.length < limit; shard += 1, at = { from: cutOff }) {
      const page = await this.#shardPage(room, shard, limit - listed.length, at);
      if (page.grownShards !== undefined) shards = Math.min(this.#shards, page.grownShards);
      listed.push(...page.listed);
      const last = page.listed.at(-1);
      if (page.more && last !== undefined) next = `${shard}.${last.sortKey}`;
      else if (listed.length >= limit && shard + 1 < shards) next = `${shard + 1}`;
    }
    const found = await this.#namesOf(listed.map(({ id }) => id));
    // A member that left between the listing and the names is left out.
    return { members: listed.flatMap(({ id }) => found.get(id) ?? []), ...(next !== undefined ? { next } : {}) };
  }

  /** Up to `limit` members of one shard from `at`, whether the shard may have more, and the marker's shards. */
  async #shardPage(
    room: string,
    shard: number,
    limit: number,
    at: ShardStart,
  ): Promise<{ listed: { id: string; sortKey: string }[]; more: boolean; grownShards?: number }> {
    const listed: { id: string; sortKey: string }[] = [];
    let grownShards: number | undefined;
    let read = 0;
    let next: Record<string, unknown> | undefined = at.start;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: ROOM_INDEX,
          KeyConditionExpression: 'gsi1pk = :room AND gsi1sk >= :from',
          ProjectionExpression: 'pk, gsi1sk',
          ExpressionAttributeValues: { ':room': roomIndexKey(room, shard), ':from': at.from },
          Limit: limit - read,
          ...(next !== undefined ? { ExclusiveStartKey: next } : {}),
        }),
      );
      for (const { pk, gsi1sk } of (page.Items ?? []).slice(0, limit - read)) {
        read += 1;
        const id = typeof pk === 'string' ? connectionIdOfKey(pk) : undefined;
        if (id !== undefined && typeof gsi1sk === 'string') listed.push({ id, sortKey: gsi1sk });
        else grownShards ??= grownShardsOf(gsi1sk);
      }
      next = page.LastEvaluatedKey;
    } while (next !== undefined && read < limit);
    // The marker sorts last: a page that met it ended its shard.
    return grownShards === undefined ? { listed, more: next !== undefined } : { listed, more: false, grownShards };
  }

  /** Rows that expire before this are skipped unread by every listing (TTL deletion lags up to 48 h). */
  #cutOff(): string {
    return expiryKey(Math.floor(this.#now().getTime() / 1000) + 1);
  }

  async #namesOf(ids: readonly string[]): Promise<Map<string, Member>> {
    const members = new Map<string, Member>();
    for (let start = 0; start < ids.length; start += BATCH_GET_LIMIT) {
      let keys: Record<string, unknown>[] | undefined = ids
        .slice(start, start + BATCH_GET_LIMIT)
        .map((id) => ({ ...connectionKey(id) }));
      // BatchGetItem may return some keys unprocessed under load; ask again for exactly those.
      for (let attempt = 0; keys !== undefined && keys.length > 0 && attempt < 5; attempt += 1) {
        const result: BatchGetCommandOutput = await this.#client.send(
          new BatchGetCommand({
            RequestItems: {
              [this.#tableName]: {
                Keys: keys,
                ProjectionExpression: 'pk, #name, userId, rev, retired',
                ExpressionAttributeNames: { '#name': 'name' },
              },
            },
          }),
        );
        for (const item of result.Responses?.[this.#tableName] ?? []) {
          const { pk, name, userId, rev, retired } = item;
          const id = typeof pk === 'string' ? connectionIdOfKey(pk) : undefined;
          if (id !== undefined && typeof name === 'string' && retired === undefined) {
            const verified = typeof userId === 'string' ? { userId } : {};
            members.set(id, { id, name, ...verified, revision: typeof rev === 'number' ? rev : 0 });
          }
        }
        keys = result.UnprocessedKeys?.[this.#tableName]?.Keys;
      }
    }
    return members;
  }

  async *#roomPages(room: string, shard: number, from: string): AsyncIterable<ListedPage> {
    const pages = paginateQuery(
      { client: this.#client, ...(this.#pageSize !== undefined ? { pageSize: this.#pageSize } : {}) },
      {
        TableName: this.#tableName,
        IndexName: ROOM_INDEX,
        // Expired rows sort before :from, so the key condition skips them unread; TTL deletion lags up to 48 h.
        KeyConditionExpression: 'gsi1pk = :room AND gsi1sk >= :from',
        ProjectionExpression: 'pk, gsi1sk',
        ExpressionAttributeValues: { ':room': roomIndexKey(room, shard), ':from': from },
      },
    );
    for await (const page of pages) {
      const ids: string[] = [];
      let grownShards: number | undefined;
      for (const { pk, gsi1sk } of page.Items ?? []) {
        const id = typeof pk === 'string' ? connectionIdOfKey(pk) : undefined;
        if (id !== undefined) ids.push(id);
        else grownShards ??= grownShardsOf(gsi1sk);
      }
      yield grownShards === undefined ? { ids } : { ids, grownShards };
    }
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
