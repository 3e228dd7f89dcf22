import { type DynamoDBDocumentClient, GetCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { shardOf } from '../domain/room-shards.ts';
import { presenceClockKey, roomIndexKey } from './dynamodb-keys.ts';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Rooms below this many members keep their whole listing in shard 0 (one Query); see {@link RoomGrowth}. */
export const DEFAULT_GROW_AT = 1000;
/** Rooms known grown, kept per container; the oldest go first. */
const MAX_KNOWN_ROOMS = 10_000;

/** The room index's sort key of a grown room's marker: above every member's (digits), in shard 0. */
const MARKER_SORT_KEY = /^~shards#(\d{1,4})$/;

function markerSortKey(shards: number): string {
  return `~shards#${shards}`;
}

/**
 * The number of shards a room grew into, when `gsi1sk` is its marker's (a listing of shard 0 meets it: newest
 * first, before every member); `undefined` for a member's.
 */
export function grownShardsOf(gsi1sk: unknown): number | undefined {
  if (typeof gsi1sk !== 'string') return undefined;
  const shards = MARKER_SORT_KEY.exec(gsi1sk)?.[1];
  return shards === undefined ? undefined : Number(shards);
}

/**
 * Where a connection entering a room goes in the room index, and what the room's count item must say for that to
 * hold: `small`, shard 0 while the room has not grown and has fewer than `growAt` members; `grown`, its own shard of
 * a room that grew into `shards`; `grow`, its own shard of a room this very write grows (it writes the marker).
 */
export type Placement =
  | { readonly kind: 'small'; readonly room: string; readonly shard: 0 }
  | { readonly kind: 'grown' | 'grow'; readonly room: string; readonly shard: number; readonly shards: number }
  | { readonly kind: 'fixed'; readonly room: string; readonly shard: 0 };

export interface RoomGrowthOptions {
  readonly tableName: string;
  /** The shards a room grows into (1: never grows, every listing is one partition). */
  readonly shards: number;
  /** A room grows once this many members are counted (0: at its first member). */
  readonly growAt: number;
}

/**
 * Room shards that grow with the room. A room's members are listed by shard of a sparse index; a small room keeps
 * them all in shard 0, so that listing it (every message, every roster) is one Query, not one per shard. The
 * member that finds the room at `growAt` members grows it: in the same transaction as its own join, the room's count
 * item records the shard count and enters the index as a marker in shard 0, sorting above every member; from then
 * on every member entering it takes its own shard ({@link shardOf}). A room never shrinks back. A listing reads
 * shard 0 newest first, meets the marker first when there is one, and only then asks the other shards. Each
 * placement is a condition on the count item in the joining transaction, so a join that raced a growth is
 * cancelled and made again: a member is never in a shard a listing does not read. The rooms known grown are
 * remembered per container, so a join into a grown room is one transaction.
 */
export class RoomGrowth {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #shards: number;
  readonly #growAt: number;
  readonly #grown = new Map<string, number>();

  constructor(client: DynamoDBDocumentClient, options: RoomGrowthOptions) {
    if (!Number.isInteger(options.growAt) || options.growAt < 0) {
      throw new RangeError(`growAt must be a non-negative integer, got ${options.growAt}`);
    }
    this.#client = client;
    this.#tableName = options.tableName;
    this.#shards = options.shards;
    this.#growAt = options.growAt;
  }

  /** The first guess for a connection entering `room`: what this container knows of the room. */
  placement(room: string, connectionId: string): Placement {
    if (this.#shards <= 1) return { kind: 'fixed', room, shard: 0 };
    const shards = this.#grown.get(room);
    if (shards !== undefined) return { kind: 'grown', room, shard: shardOf(connectionId, shards), shards };
    if (this.#growAt === 0)
      return { kind: 'grow', room, shard: shardOf(connectionId, this.#shards), shards: this.#shards };
    return { kind: 'small', room, shard: 0 };
  }

  /** The placement after one whose condition failed: reads the room's count item, strongly consistently. */
  async replace(refused: Placement, connectionId: string): Promise<Placement> {
    const { room } = refused;
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: presenceClockKey(room),
        ProjectionExpression: 'members, grownShards',
        ConsistentRead: true,
      }),
    );
    const grownShards = Item?.['grownShards'];
    if (typeof grownShards === 'number') {
      this.#remember(room, grownShards);
      return { kind: 'grown', room, shard: shardOf(connectionId, grownShards), shards: grownShards };
    }
    this.#grown.delete(room);
    const members = Item?.['members'];
    if (typeof members === 'number' && members >= this.#growAt) {
      return { kind: 'grow', room, shard: shardOf(connectionId, this.#shards), shards: this.#shards };
    }
    return { kind: 'small', room, shard: 0 };
  }

  /** Notes a room grown by a write of this container. */
  applied(placement: Placement): void {
    if (placement.kind === 'grow' || placement.kind === 'grown') this.#remember(placement.room, placement.shards);
  }

  /**
   * The transaction's items with the placement's condition on the room's count item (added to its update when the
   * records move the count, else as a condition check of its own), and the index of that item.
   */
  conditioned(items: readonly TransactItem[], placement: Placement): { items: TransactItem[]; index: number } {
    if (placement.kind === 'fixed') return { items: [...items], index: -1 };
    const key = presenceClockKey(placement.room);
    const condition = this.#condition(placement);
    const index = items.findIndex(({ Update }) => Update?.Key?.['pk'] === key.pk && Update.Key['sk'] === key.sk);
    const update = items[index]?.Update;
    if (update === undefined) {
      if (placement.kind === 'grow') {
        const grow: TransactItem = {
          Update: {
            TableName: this.#tableName,
            Key: key,
            UpdateExpression: 'SET grownShards = :grownShards, gsi1pk = :markerPk, gsi1sk = :markerSk',
            ConditionExpression: condition.expression,
            ExpressionAttributeValues: { ...condition.values, ...this.#markerValues(placement) },
          },
        };
        return { items: [...items, grow], index: items.length };
      }
      const check: TransactItem = {
        ConditionCheck: {
          TableName: this.#tableName,
          Key: key,
          ConditionExpression: condition.expression,
          ExpressionAttributeValues: condition.values,
        },
      };
      return { items: [...items, check], index: items.length };
    }
    const grows = placement.kind === 'grow';
    const conditioned: TransactItem = {
      Update: {
        ...update,
        UpdateExpression: grows
          ? `${update.UpdateExpression ?? ''}${/\bSET\b/.test(update.UpdateExpression ?? '') ? ',' : ' SET'} grownShards = :grownShards, gsi1pk = :markerPk, gsi1sk = :markerSk`
          : update.UpdateExpression,
        ConditionExpression:
          update.ConditionExpression === undefined
            ? condition.expression
            : `(${update.ConditionExpression}) AND ${condition.expression}`,
        ExpressionAttributeValues: {
          ...update.ExpressionAttributeValues,
          ...condition.values,
          ...(grows ? this.#markerValues(placement) : {}),
        },
      },
    };
    return { items: items.map((item, i) => (i === index ? conditioned : item)), index };
  }

  #condition(placement: Exclude<Placement, { kind: 'fixed' }>): {
    expression: string;
    values: Record<string, unknown>;
  } {
    switch (placement.kind) {
      case 'small':
        return {
          expression: 'attribute_not_exists(grownShards) AND (attribute_not_exists(members) OR members < :growAt)',
          values: { ':growAt': this.#growAt },
        };
      case 'grown':
        return { expression: 'grownShards = :grownShards', values: { ':grownShards': placement.shards } };
      case 'grow':
        return { expression: 'attribute_not_exists(grownShards)', values: {} };
    }
  }

  #markerValues(placement: Placement & { shards: number }): Record<string, unknown> {
    return {
      ':grownShards': placement.shards,
      ':markerPk': roomIndexKey(placement.room, 0),
      ':markerSk': markerSortKey(placement.shards),
    };
  }

  #remember(room: string, shards: number): void {
    this.#grown.delete(room);
    this.#grown.set(room, shards);
    for (const oldest of this.#grown.keys()) {
      if (this.#grown.size <= MAX_KNOWN_ROOMS) break;
      this.#grown.delete(oldest);
    }
  }
}
