import { describe, expect, it } from '@jest/globals';
import type { ShardProgress } from '../../src/domain/shard-progress.ts';

/** What every ShardProgress adapter must do; run once per adapter. `create` returns one over an empty store. */
export function shardProgressContract(adapter: string, create: () => Promise<ShardProgress>): void {
  describe(`ShardProgress contract: ${adapter}`, () => {
    it('knows no job as complete until it is recorded, and then that job only', async () => {
      const progress = await create();
      const before = await progress.isComplete('f-1#0#');

      await progress.complete('f-1#0#');

      expect({
        before,
        after: await progress.isComplete('f-1#0#'),
        otherShard: await progress.isComplete('f-1#1#'),
        otherPage: await progress.isComplete('f-1#0#after:x'),
        otherFanOut: await progress.isComplete('f-2#0#'),
      }).toEqual({ before: false, after: true, otherShard: false, otherPage: false, otherFanOut: false });
    });

    it('accepts a job recorded twice, as a retried write may', async () => {
      const progress = await create();
      await progress.complete('f-1#3#1767225600.1767229200#abc=');
      await progress.complete('f-1#3#1767225600.1767229200#abc=');
      expect(await progress.isComplete('f-1#3#1767225600.1767229200#abc=')).toBe(true);
    });
  });
}
