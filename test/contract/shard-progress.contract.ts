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
      await progress.complete('f-1#3#2');
      await progress.complete('f-1#3#2');
      expect(await progress.isComplete('f-1#3#2')).toBe(true);
    });

    it("keeps a page's first cursor: a later run of the page before gets it back, not its own", async () => {
      const progress = await create();

      const first = await progress.recordCursor('f-1#0#1', '1767225600.1767229200#abc');
      const rerun = await progress.recordCursor('f-1#0#1', '1767225601.1767229200#abd');
      const replayed = await progress.recordCursor('f-1#0#1', '1767225600.1767229200#abc');

      expect({
        first,
        rerun,
        replayed,
        otherShard: await progress.recordCursor('f-1#1#1', 'x'),
        otherPage: await progress.recordCursor('f-1#0#2', 'y'),
        notComplete: await progress.isComplete('f-1#0#1'),
      }).toEqual({
        first: '1767225600.1767229200#abc',
        rerun: '1767225600.1767229200#abc',
        replayed: '1767225600.1767229200#abc',
        otherShard: 'x',
        otherPage: 'y',
        notComplete: false,
      });
    });
  });
}
