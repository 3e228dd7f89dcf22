/**
 * The shard of a room's listing that a connection is in: a stable hash of its id (32-bit FNV-1a) modulo the
 * number of shards, so that every adapter splits a room alike and a connection keeps its shard in every room.
 */
export function shardOf(connectionId: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < connectionId.length; i += 1) {
    hash ^= connectionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}
