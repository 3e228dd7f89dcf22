import type { BudgetCheck } from '../domain/owner-budget.ts';
import type { DynamoDbOwnerBudget } from './dynamodb-owner-budget.ts';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { PresenceRecord } from '../domain/presence.ts';
import { presenceRecordWrites } from './dynamodb-presence-log.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection, ConnectionChange, ConnectionChanges, MemberPage } from '../domain/connection.ts';
import type { ConnectionRepository, ShardPage } from '../domain/connection-repository.ts';
import { DEFAULT_GROW_AT, type Placement, RoomGrowth } from './dynamodb-room-growth.ts';
import type { ConnectionSnapshots } from './dynamodb-connection-snapshots.ts';
import type { DynamoDbConnectionQuota } from './dynamodb-connection-quota.ts';
import type { ConnectionOwners } from '../domain/connection-quota.ts';
import { ConcurrentChangeError } from '../domain/errors.ts';
import { DynamoDbRoomListing } from './dynamodb-room-listing.ts';
import { connectionIdOfKey, connectionKey, roomIndexKey, roomSortKey, type TableKey } from './dynamodb-keys.ts';

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
type WriteOutcome =
  'applied' | 'condition_failed' | 'conflict' | 'placement_refused' | 'slots_refused' | 'budget_refused';

export interface DynamoDbConnectionRepositoryOptions {
  readonly tableName: string;
  /** How many shards a room's index grows into (1 by default); see {@link RoomGrowth}. */
  readonly shards?: number;
  /** A room grows into its shards once it counts this many members ({@link DEFAULT_GROW_AT} by default). */
  readonly growAt?: number;
  /** Query page size; omit to let DynamoDB fill 1 MB pages. */
  readonly pageSize?: number;
  /** The quota whose slots {@link DynamoDbConnectionRepository.saveWithSlots} takes with the save; without it, none. */
  readonly quota?: DynamoDbConnectionQuota;
  /** The owners' budgets whose checks {@link DynamoDbConnectionRepository.saveWithSlots} makes with the save. */
  readonly ownerBudget?: DynamoDbOwnerBudget;
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
  readonly #now: () => Date;
  readonly #snapshots: ConnectionSnapshots | undefined;
  readonly #growth: RoomGrowth;
  readonly #listing: DynamoDbRoomListing;
  readonly #quota: DynamoDbConnectionQuota | undefined;
  readonly #ownerBudget: DynamoDbOwnerBudget | undefined;
  readonly takesSlots: boolean;
  readonly shards: number;

  constructor(client: DynamoDBDocumentClient, options: DynamoDbConnectionRepositoryOptions) {
    this.#client = client;
    this.#snapshots = options.snapshots;
    this.#quota = options.quota;
    this.#ownerBudget = options.ownerBudget;
    this.takesSlots = options.quota !== undefined;
    this.#tableName = options.tableName;
    this.shards = options.shards ?? 1;
    this.#now = options.now ?? (() => new Date());
    this.#listing = new DynamoDbRoomListing(client, {
      tableName: options.tableName,
      shards: this.shards,
      ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
      now: this.#now,
    });
    this.#growth = new RoomGrowth(client, {
      tableName: options.tableName,
      shards: this.shards,
      growAt: options.growAt ?? DEFAULT_GROW_AT,
    });
  }

  async save(connection: Connection, records: readonly PresenceRecord[] = []): Promise<void> {
    await this.#save(connection, records, []);
  }

  async saveWithSlots(
    connection: Connection,
    records: readonly PresenceRecord[],
    owners: ConnectionOwners,
    budget?: BudgetCheck,
  ): Promise<'saved' | 'owners_full' | 'over_budget'> {
    if (this.#quota === undefined) throw new Error('this repository was built without the quota: it takes no slots');
    if (budget !== undefined && this.#ownerBudget === undefined) {
      throw new Error("this repository was built without the owners' budgets");
    }
    // One transaction: the row, its records, the room's count, a slot of each owner and the check of its budget.
    const slots = this.#quota.slotClaims(connection.id, owners, connection.expiresAt);
    const check = budget === undefined ? undefined : this.#ownerBudget?.check(budget);
    return this.#save(connection, records, slots, check);
  }

  async #save(
    connection: Connection,
    records: readonly PresenceRecord[],
    slots: readonly TransactItem[],
    check?: TransactItem,
  ): Promise<'saved' | 'owners_full' | 'over_budget'> {
    const expiresAt = Math.ceil(connection.expiresAt.getTime() / 1000);
    const changeId = newChangeId();
    const put = {
      TableName: this.#tableName,
      Item: {
        ...connectionKey(connection.id),
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
    };
    let placement = this.#growth.placement(connection.room, connection.id);
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt += 1) {
      const placed: TransactItem = {
        Put: { ...put, Item: { ...put.Item, gsi1pk: roomIndexKey(connection.room, placement.shard) } },
      };
      const outcome = await this.#write(placed, records, placement, slots, check);
      if (outcome === 'applied') return 'saved';
      if (outcome === 'budget_refused') return 'over_budget';
      if (outcome === 'slots_refused') return 'owners_full';
      if (outcome === 'placement_refused') {
        placement = await this.#growth.replace(placement, connection.id);
        continue;
      }
      if (outcome === 'condition_failed') {
        // The SDK replayed this very save after its answer was lost, or the id is taken.
        if ((await this.#read(connection.id))?.['changeId'] === changeId) return 'saved';
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
    let placement: Placement | undefined;
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
      // A member that stays in its room keeps its shard; one that enters a room is placed in it.
      const moves = after.room !== before.room;
      if (moves && placement?.room !== after.room) placement = this.#growth.placement(after.room, connectionId);
      const changeId = newChangeId();
      const write: TransactItem = {
        Update: {
          TableName: this.#tableName,
          Key: this.#key(connectionId),
          UpdateExpression: `SET room = :room, ${moves ? 'gsi1pk = :gsi1pk, ' : ''}#name = :name, announced = :announced, rev = :next, changeId = :changeId`,
          ConditionExpression: AS_READ,
          ExpressionAttributeNames: { '#name': 'name' },
          ExpressionAttributeValues: {
            ':room': after.room,
            ...(moves && placement !== undefined ? { ':gsi1pk': roomIndexKey(after.room, placement.shard) } : {}),
            ':name': after.name,
            ':announced': after.announced,
            ':next': after.revision,
            ':changeId': changeId,
            ':rev': before.revision,
          },
        },
      };
      const outcome = await this.#write(write, recordsOf({ before, after }), moves ? placement : undefined);
      if (outcome === 'applied') return { before, after };
      if (outcome === 'placement_refused' && placement !== undefined) {
        placement = await this.#growth.replace(placement, connectionId);
        continue;
      }
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
    return (await this.#remove(connectionId, recordsOf)).removed;
  }

  async removeWithSlots(
    connectionId: string,
    recordsOf: (connection: Connection) => readonly PresenceRecord[],
    owners: ConnectionOwners,
  ): Promise<{ removed: Connection | undefined; released: boolean }> {
    if (this.#quota === undefined) throw new Error('this repository was built without the quota: it takes no slots');
    return this.#remove(connectionId, recordsOf, owners);
  }

  async #remove(
    connectionId: string,
    recordsOf: (connection: Connection) => readonly PresenceRecord[],
    owners?: ConnectionOwners,
  ): Promise<{ removed: Connection | undefined; released: boolean }> {
    // The slots go with the row, until one turns out not to be held: then the row goes alone.
    let releasing = owners !== undefined && this.#quota !== undefined;
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt += 1) {
      const item = await this.#read(connectionId);
      const connection = toConnection(item);
      if (item === undefined || connection === undefined) return { removed: undefined, released: false };
      const write: TransactItem = {
        Delete: {
          TableName: this.#tableName,
          Key: this.#key(connectionId),
          ConditionExpression: AT_REVISION,
          ExpressionAttributeValues: { ':rev': connection.revision },
        },
      };
      const slots =
        releasing && owners !== undefined && this.#quota !== undefined
          ? this.#quota.slotReleases(connectionId, {
              ...owners,
              ...(connection.userId !== undefined ? { userId: connection.userId } : {}),
            })
          : [];
      const outcome = await this.#write(write, item['retired'] === true ? [] : recordsOf(connection), undefined, slots);
      if (outcome === 'applied') return { removed: connection, released: slots.length > 0 };
      if (outcome === 'slots_refused') {
        releasing = false;
        continue;
      }
      await backoff(attempt);
    }
    throw new ConcurrentChangeError(connectionId);
  }

  /**
   * Writes one change of a connection item with the presence records it causes: alone when there are none, else
   * in one transaction (the SDK gives it a client token, so a replay after a lost answer applies once).
   */
  async #write(
    write: TransactItem,
    records: readonly PresenceRecord[],
    placement?: Placement,
    slots: readonly TransactItem[] = [],
    check?: TransactItem,
  ): Promise<WriteOutcome> {
    const pk = (write.Put?.Item ?? write.Update?.Key ?? write.Delete?.Key)?.['pk'];
    const connectionId = typeof pk === 'string' ? connectionIdOfKey(pk) : undefined;
    if (connectionId !== undefined) this.#snapshots?.forget(connectionId);
    const all = [write, ...presenceRecordWrites(this.#tableName, records, this.shards, this.#now())];
    // The room a connection enters must still be as its placement assumed (see RoomGrowth).
    const conditioned = placement === undefined ? { items: all, index: -1 } : this.#growth.conditioned(all, placement);
    const { index } = conditioned;
    // The owners' slots, then the check of the budget, last: a refusal among them is the owners'.
    const items = [...conditioned.items, ...slots, ...(check === undefined ? [] : [check])];
    const firstSlot = conditioned.items.length;
    const checkAt = check === undefined ? -1 : items.length - 1;
    try {
      if (items.length === 1) {
        const { Put, Update, Delete } = write;
        if (Put !== undefined) await this.#client.send(new PutCommand(Put));
        else if (Update !== undefined) await this.#client.send(new UpdateCommand(Update));
        else if (Delete !== undefined) await this.#client.send(new DeleteCommand(Delete));
        if (placement !== undefined) this.#growth.applied(placement);
        return 'applied';
      }
      await this.#client.send(new TransactWriteCommand({ TransactItems: items }));
      if (placement !== undefined) this.#growth.applied(placement);
      return 'applied';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'condition_failed';
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      if (reasons[0]?.Code === 'ConditionalCheckFailed') return 'condition_failed';
      if (index >= 0 && reasons[index]?.Code === 'ConditionalCheckFailed') return 'placement_refused';
      // Refused by its budget, whatever its slots: a connect over budget is refused before its slots are looked at.
      if (checkAt >= 0 && reasons[checkAt]?.Code === 'ConditionalCheckFailed') return 'budget_refused';
      if (reasons.slice(firstSlot).some(({ Code }) => Code === 'ConditionalCheckFailed')) return 'slots_refused';
      if (reasons.some(({ Code }) => Code === 'TransactionConflict')) return 'conflict';
      throw error;
    }
  }

  list(room: string): AsyncIterable<readonly string[]> {
    return this.#listing.list(room);
  }

  listShard(room: string, shard: number, limit: number, after?: string): Promise<ShardPage> {
    return this.#listing.listShard(room, shard, limit, after);
  }

  members(room: string, limit: number, after?: string): Promise<MemberPage> {
    return this.#listing.members(room, limit, after);
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
}
