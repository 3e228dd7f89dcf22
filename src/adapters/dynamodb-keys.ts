/**
 * The chat table's key scheme, the one place every DynamoDB adapter and the test support take it from.
 * One table holds ten kinds of item, told apart by the prefix of their partition key:
 *
 * | item | pk | sk | room index (`gsi1pk`, `gsi1sk`) |
 * | --- | --- | --- | --- |
 * | a connection | `conn#<connection id>` | `connection` | `room#<room>#<shard>`, `<expiry>#<connection id>` |
 * | a room's sequence counter | `room#<room>` | `sequence` | none |
 * | a room's presence clock and member count | `room#<room>` | `presence` | once the room grew: `room#<room>#0`, `~shards#<n>` |
 * | a room's pending presence change | `presence#<room>#<shard>` | `<at ms>#<connection id>#<rev>` | none |
 * | a completed shard job | `shardjob#<fan-out id>#<shard>#<page>` | `done` | none |
 * | the cursor a shard job's page starts at | `shardjob#<fan-out id>#<shard>#<page>` | `cursor` | none |
 * | a room's history slot | `history#<room>` | `slot#NN` | none |
 * | a message sent with a clientMsgId | `sent#<sender>` | `msg#<clientMsgId>` | none |
 * | an owner's connection quota | `quota#user#<sub>` or `quota#ip#<address>` | `quota` | none |
 * | an owner's frame budget | `budget#user:<sub>` or `budget#ip:<address>` | `budget` | none |
 */

/** The sparse, keys-only index that lists a room's connections; only connection items carry its keys. */
export const ROOM_INDEX = 'byRoom';

export const CONNECTION_PREFIX = 'conn#';
export const ROOM_PREFIX = 'room#';
export const HISTORY_PREFIX = 'history#';
export const SENT_PREFIX = 'sent#';
export const QUOTA_PREFIX = 'quota#';
export const PRESENCE_PREFIX = 'presence#';

export interface TableKey {
  readonly pk: string;
  readonly sk: string;
}

export function connectionKey(connectionId: string): TableKey {
  return { pk: CONNECTION_PREFIX + connectionId, sk: 'connection' };
}

/** The connection id of a connection item's partition key, or `undefined` for any other item. */
export function connectionIdOfKey(pk: string): string | undefined {
  return pk.startsWith(CONNECTION_PREFIX) ? pk.slice(CONNECTION_PREFIX.length) : undefined;
}

/** The room index's partition key of one shard of a room: `room#<room>#<shard>`. */
export function roomIndexKey(room: string, shard: number): string {
  return `${ROOM_PREFIX}${room}#${shard}`;
}

/** Zero-padded epoch seconds, so that the index sorts expiries as numbers. */
export function expiryKey(expiresAtSeconds: number): string {
  return String(expiresAtSeconds).padStart(10, '0');
}

/**
 * The room index's sort key: the expiry before the id, so that a key condition skips expired rows without
 * reading them, and a room listing reads nothing but keys.
 */
export function roomSortKey(expiresAtSeconds: number, connectionId: string): string {
  return `${expiryKey(expiresAtSeconds)}#${connectionId}`;
}

export function sequenceKey(room: string): TableKey {
  return { pk: ROOM_PREFIX + room, sk: 'sequence' };
}

export function historyPartition(room: string): string {
  return HISTORY_PREFIX + room;
}

/**
 * The item that claims a sender's clientMsgId, whatever the room, for the message stored under it: a resend made
 * after its sender moved to another room is still the message it sent before.
 */
export function sentKey(sender: string, clientMsgId: string): TableKey {
  return { pk: `${SENT_PREFIX}${sender}`, sk: `msg#${clientMsgId}` };
}

export function historySlotKey(room: string, slot: number): TableKey {
  return { pk: historyPartition(room), sk: `slot#${String(slot).padStart(2, '0')}` };
}

export function quotaKey(kind: 'user' | 'ip', owner: string): TableKey {
  return { pk: `${QUOTA_PREFIX}${kind}#${owner}`, sk: 'quota' };
}

export const BUDGET_PREFIX = 'budget#';

/** The item that holds an owner's budget (see `budgetOwnerOf`): `budget#user:<sub>` or `budget#ip:<address>`. */
export function ownerBudgetKey(owner: string): TableKey {
  return { pk: BUDGET_PREFIX + owner, sk: 'budget' };
}

export function presenceClockKey(room: string): TableKey {
  return { pk: ROOM_PREFIX + room, sk: 'presence' };
}

/** The partition of one shard of a room's pending presence changes: `presence#<room>#<shard>`. */
export function presencePartition(room: string, shard: number): string {
  return `${PRESENCE_PREFIX}${room}#${shard}`;
}

/** A pending change's sort key: in the order the changes happened, one key per member revision. */
export function presenceChangeSortKey(atMs: number, connectionId: string, rev: number): string {
  return `${String(atMs).padStart(13, '0')}#${connectionId}#${String(rev).padStart(6, '0')}`;
}

/** The item that records a shard job as complete. */
export function shardJobItemKey(jobKey: string): TableKey {
  return { pk: `shardjob#${jobKey}`, sk: 'done' };
}

/** The item that records the cursor a shard job's page starts at, written once by the first job before it. */
export function shardJobCursorKey(jobKey: string): TableKey {
  return { pk: `shardjob#${jobKey}`, sk: 'cursor' };
}
