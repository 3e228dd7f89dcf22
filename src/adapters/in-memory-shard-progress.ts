import type { ShardProgress } from '../domain/shard-progress.ts';

/** Completed shard jobs and recorded cursors in this process's memory: for tests. */
export class InMemoryShardProgress implements ShardProgress {
  readonly #complete = new Set<string>();
  readonly #cursors = new Map<string, string>();

  async isComplete(key: string): Promise<boolean> {
    return this.#complete.has(key);
  }

  async complete(key: string): Promise<void> {
    this.#complete.add(key);
  }

  async recordCursor(key: string, after: string): Promise<string> {
    const recorded = this.#cursors.get(key) ?? after;
    this.#cursors.set(key, recorded);
    return recorded;
  }
}
