/** A connection item as a DynamoDB request returned it. */
export type ConnectionItem = Record<string, unknown>;

export interface ConnectionSnapshotsOptions {
  /** How long a snapshot may stand in for a read: a moment, the time from a frame's rate count to its handling. */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}

/** A snapshot is taken by the next read of its connection within this long, or dropped. */
const DEFAULT_MAX_AGE_MS = 1000;
/** Snapshots kept at most; the oldest go first. */
const MAX_SNAPSHOTS = 1000;

/**
 * Connection items that a write of this container just returned whole (the rate count's `UpdateItem`, which
 * counts every frame on the connection's own item), for the next read of that connection: a frame's handling then
 * needs no read of its sender, one round trip less on every frame. A snapshot is as fresh as a strongly consistent
 * read made when it was taken, and serves one read only, within {@link DEFAULT_MAX_AGE_MS}; every write that
 * relies on it is conditional on the revision it holds, as on a read.
 */
export class ConnectionSnapshots {
  readonly #items = new Map<string, { readonly item: ConnectionItem; readonly at: number }>();
  readonly #maxAgeMs: number;
  readonly #now: () => number;

  constructor(options: ConnectionSnapshotsOptions = {}) {
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  keep(connectionId: string, item: ConnectionItem): void {
    this.#items.delete(connectionId);
    this.#items.set(connectionId, { item, at: this.#now() });
    for (const oldest of this.#items.keys()) {
      if (this.#items.size <= MAX_SNAPSHOTS) break;
      this.#items.delete(oldest);
    }
  }

  /** The connection's snapshot if one was kept within the moment, once; `undefined` otherwise. */
  take(connectionId: string): ConnectionItem | undefined {
    const kept = this.#items.get(connectionId);
    if (kept === undefined) return undefined;
    this.#items.delete(connectionId);
    return this.#now() - kept.at <= this.#maxAgeMs ? kept.item : undefined;
  }

  /** Drops the connection's snapshot: a write changed the item since. */
  forget(connectionId: string): void {
    this.#items.delete(connectionId);
  }
}
