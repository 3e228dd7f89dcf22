import type { ShardProgress } from '../domain/shard-progress.ts';

/** Completed shard jobs in this process's memory: for tests. */
export class InMemoryShardProgress implements ShardProgress {
  readonly #complete = new Set<string>();

  async isComplete(key: string): Promise<boolean> {
    return this.#complete.has(key);
  }

  async complete(key: string): Promise<void> {
    this.#complete.add(key);
  }
}
