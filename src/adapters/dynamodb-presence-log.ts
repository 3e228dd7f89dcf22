import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type BatchWriteCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { PendingChange, PresenceChange, PresenceClock, PresenceLog, PresenceRecord } from '../domain/presence.ts';
import { shardOf } from '../domain/room-shards.ts';
import { presenceChangeSortKey, presenceClockKey, presencePartition, type TableKey } from './dynamodb-keys.ts';

/** BatchWriteItem takes at most 25 requests per call. */
const BATCH_WRITE_LIMIT = 25;
/** How long a pending change is kept if no flush ever announces it (the table's TTL removes it). */
const PENDING_TTL_SECONDS = 24 * 3600;

export interface DynamoDbPresenceLogOptions {
  readonly tableName: string;
  /**
   * How many partitions a room's pending changes are spread over (1 by default), each change by its member's
   * shard: a room's changes then take that many times DynamoDB's 1,000 writes a second per partition.
   */
  readonly shards?: number;
  readonly now?: () => Date;
}

type Item = Record<string, unknown>;

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * The writes that keep presence records: one item per change in its room's partition (its member's shard), and
 * per room one update of its clock that moves the member count and notes when it last changed. They go in the
 * same transaction as the connection change that causes them, so none of them applies without the others.
 */
export function presenceRecordWrites(
  tableName: string,
  records: readonly PresenceRecord[],
  shards: number,
  now: Date,
): TransactItem[] {
  const expiresAt = Math.floor(now.getTime() / 1000) + PENDING_TTL_SECONDS;
  const changes: TransactItem[] = records.map(({ room, change }) => ({
    Put: {
      TableName: tableName,
      Item: {
        pk: presencePartition(room, shardOf(change.connectionId, shards)),
        sk: presenceChangeSortKey(Date.parse(change.at), change.connectionId, change.rev),
        change,
        expiresAt,
      },
    },
  }));
  // One update per room: a transaction may not touch an item twice.
  const rooms = new Map<string, { delta: number; at: number }>();
  for (const { room, change, memberDelta } of records) {
    const seen = rooms.get(room);
    rooms.set(room, { delta: (seen?.delta ?? 0) + memberDelta, at: Math.max(seen?.at ?? 0, Date.parse(change.at)) });
  }
  const clocks: TransactItem[] = [...rooms].map(([room, { delta, at }]) => ({
    Update: {
      TableName: tableName,
      Key: presenceClockKey(room),
      UpdateExpression: 'ADD members :delta SET lastChangeAt = :at',
      ExpressionAttributeValues: { ':delta': delta, ':at': at },
    },
  }));
  return [...changes, ...clocks];
}

/**
 * The number and string attributes of an item in DynamoDB's wire form (a failed condition's item, which the document
 * client leaves as it came): all a clock holds.
 */
function plainAttributes(item: Record<string, { N?: string; S?: string } | undefined>): Item {
  const plain: Item = {};
  for (const [name, value] of Object.entries(item)) {
    if (value?.N !== undefined) plain[name] = Number(value.N);
    else if (value?.S !== undefined) plain[name] = value.S;
  }
  return plain;
}

function clockOf(item: Item | undefined): PresenceClock {
  const { members, lastFlushAt, lastChangeAt, flushDue, flushJob } = item ?? {};
  return {
    // Joins and leaves count members, in the same writes as the connection changes that cause them.
    members: typeof members === 'number' ? Math.max(0, members) : 0,
    ...(typeof lastFlushAt === 'number' ? { lastFlushAt: new Date(lastFlushAt) } : {}),
    ...(typeof lastChangeAt === 'number' ? { lastChangeAt: new Date(lastChangeAt) } : {}),
    ...(typeof flushDue === 'number' && typeof flushJob === 'string'
      ? { scheduled: { due: new Date(flushDue), jobId: flushJob } }
      : {}),
  };
}

function isPresenceChange(value: unknown): value is PresenceChange {
  if (typeof value !== 'object' || value === null) return false;
  const { event, connectionId, name, rev, at } = value as Record<string, unknown>;
  return (
    (event === 'join' || event === 'leave' || event === 'rename') &&
    typeof connectionId === 'string' &&
    typeof name === 'string' &&
    typeof rev === 'number' &&
    typeof at === 'string'
  );
}

/**
 * Each pending change is an item of its own in a partition of the room's (its member's shard), sorted by when it happened,
 * so that recording one costs one small write whatever the backlog, and a flush that fails after sending
 * leaves its changes to be sent again rather than lost. The room's clock (last flush, the scheduled one,
 * the member count) is one small item beside the room's sequence counter; each of its changes is one
 * conditional update.
 */
export class DynamoDbPresenceLog implements PresenceLog {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #now: () => Date;
  readonly #shards: number;

  constructor(client: DynamoDBDocumentClient, options: DynamoDbPresenceLogOptions) {
    this.#client = client;
    this.#tableName = options.tableName;
    this.#shards = options.shards ?? 1;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Keeps one change on its own and returns the room's clock after it. Not part of the port: the chat keeps its
   * changes with the connection changes that cause them; tests use this to seat members.
   */
  async record(room: string, change: PresenceChange, memberDelta: number): Promise<PresenceClock> {
    await this.#client.send(
      new TransactWriteCommand({
        TransactItems: presenceRecordWrites(
          this.#tableName,
          [{ room, change, memberDelta }],
          this.#shards,
          this.#now(),
        ),
      }),
    );
    return this.clock(room);
  }

  async claimFlush(
    room: string,
    lastFlushAt: Date | undefined,
    at: Date,
    windowStart: Date,
    staleBefore: Date,
    jobId: string,
  ): Promise<boolean> {
    if (lastFlushAt !== undefined && lastFlushAt > windowStart) return false;
    return this.#conditionally({
      Key: presenceClockKey(room),
      UpdateExpression: 'SET lastFlushAt = :at, flushDue = :at, flushJob = :job',
      ConditionExpression: `${lastFlushAt === undefined ? 'attribute_not_exists(lastFlushAt)' : 'lastFlushAt = :last'} AND (attribute_not_exists(flushDue) OR flushDue < :stale)`,
      ExpressionAttributeValues: {
        ':at': at.getTime(),
        ':stale': staleBefore.getTime(),
        ':job': jobId,
        ...(lastFlushAt !== undefined ? { ':last': lastFlushAt.getTime() } : {}),
      },
    });
  }

  async requestFlush(
    room: string,
    at: Date,
    windowStart: Date,
    staleBefore: Date,
    jobId: string,
  ): Promise<true | PresenceClock> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: presenceClockKey(room),
          UpdateExpression: 'SET lastFlushAt = :at, flushDue = :at, flushJob = :job',
          ConditionExpression:
            '(attribute_not_exists(lastFlushAt) OR lastFlushAt <= :windowStart) AND (attribute_not_exists(flushDue) OR flushDue < :stale)',
          ExpressionAttributeValues: {
            ':at': at.getTime(),
            ':windowStart': windowStart.getTime(),
            ':stale': staleBefore.getTime(),
            ':job': jobId,
          },
          // The clock that refused, in the same answer; a store that does not give it is asked again.
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return error.Item === undefined ? this.clock(room) : clockOf(plainAttributes(error.Item));
    }
  }

  async scheduleFlush(room: string, due: Date, jobId: string, staleBefore: Date): Promise<boolean> {
    return this.#conditionally({
      Key: presenceClockKey(room),
      UpdateExpression: 'SET flushDue = :due, flushJob = :job',
      ConditionExpression: 'attribute_not_exists(flushDue) OR flushDue < :stale',
      ExpressionAttributeValues: { ':due': due.getTime(), ':job': jobId, ':stale': staleBefore.getTime() },
    });
  }

  async startScheduledFlush(room: string, jobId: string, now: Date, windowStart: Date): Promise<true | PresenceClock> {
    const started = await this.#conditionally({
      Key: presenceClockKey(room),
      UpdateExpression: 'SET lastFlushAt = :now, flushStarted = :job REMOVE flushDue, flushJob',
      ConditionExpression: 'flushJob = :job AND (attribute_not_exists(lastFlushAt) OR lastFlushAt <= :windowStart)',
      ExpressionAttributeValues: { ':now': now.getTime(), ':job': jobId, ':windowStart': windowStart.getTime() },
    });
    if (started) return true;
    // Started by this job already: the SDK replayed the write after its answer was lost, or the job runs again.
    const item = await this.#clockItem(room);
    return item?.['flushStarted'] === jobId ? true : clockOf(item);
  }

  async pending(room: string, limit: number): Promise<readonly PendingChange[]> {
    // Each shard's oldest `limit`, then the oldest `limit` of them all: the sort keys order changes by time.
    const shards = await Promise.all(
      Array.from({ length: this.#shards }, (_, shard) => this.#pendingOf(room, shard, limit)),
    );
    return shards
      .flat()
      .sort((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0))
      .slice(0, limit)
      .map(({ shard, sk, change }) => ({ key: `${shard}/${sk}`, change }));
  }

  async #pendingOf(
    room: string,
    shard: number,
    limit: number,
  ): Promise<Array<{ shard: number; sk: string; change: PresenceChange }>> {
    const changes: Array<{ shard: number; sk: string; change: PresenceChange }> = [];
    let start: Item | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': presencePartition(room, shard) },
          ProjectionExpression: 'sk, #change',
          ExpressionAttributeNames: { '#change': 'change' },
          ConsistentRead: true,
          Limit: limit - changes.length,
          ...(start !== undefined ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const { sk, change } of page.Items ?? []) {
        if (typeof sk === 'string' && isPresenceChange(change)) changes.push({ shard, sk, change });
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined && changes.length < limit);
    return changes;
  }

  async clock(room: string): Promise<PresenceClock> {
    return clockOf(await this.#clockItem(room));
  }

  async #clockItem(room: string): Promise<Item | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: presenceClockKey(room), ConsistentRead: true }),
    );
    return Item;
  }

  async forget(room: string, keys: readonly string[]): Promise<void> {
    // A key is `<shard>/<sort key>`, as pending() gives it; anything else is not kept here.
    const items = keys.flatMap((key) => {
      const slash = key.indexOf('/');
      const shard = Number(key.slice(0, slash));
      if (slash < 1 || !Number.isInteger(shard) || shard < 0 || shard >= this.#shards) return [];
      return [{ pk: presencePartition(room, shard), sk: key.slice(slash + 1) }];
    });
    for (let start = 0; start < items.length; start += BATCH_WRITE_LIMIT) {
      let requests: Item[] | undefined = items
        .slice(start, start + BATCH_WRITE_LIMIT)
        .map((Key) => ({ DeleteRequest: { Key } }));
      // BatchWriteItem may leave some requests unprocessed under load; send exactly those again.
      for (let attempt = 0; requests !== undefined && requests.length > 0; attempt += 1) {
        if (attempt === 5) throw new Error(`could not forget ${requests.length} announced changes of ${room}`);
        const result: BatchWriteCommandOutput = await this.#client.send(
          new BatchWriteCommand({ RequestItems: { [this.#tableName]: requests as never } }),
        );
        requests = result.UnprocessedItems?.[this.#tableName];
      }
    }
  }

  async #conditionally(update: {
    Key: TableKey;
    UpdateExpression: string;
    ConditionExpression: string;
    ExpressionAttributeValues: Record<string, unknown>;
  }): Promise<boolean> {
    try {
      await this.#client.send(new UpdateCommand({ TableName: this.#tableName, ...update }));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
