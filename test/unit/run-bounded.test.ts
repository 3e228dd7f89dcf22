import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import { runBounded } from '../../src/domain/run-bounded.ts';

async function* pagesOf<T>(items: T[], size: number): AsyncIterable<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

describe('runBounded', () => {
  it('never runs more tasks at once than the limit', async () => {
    let active = 0;
    let peak = 0;
    const items = Array.from({ length: 200 }, (_, i) => i);
    await runBounded(pagesOf(items, 7), 5, async () => {
      active += 1;
      peak = Math.max(peak, active);
      await sleep(1);
      active -= 1;
    });
    expect(peak).toBe(5);
  });

  it('runs the task once for every item of every page', async () => {
    const seen: number[] = [];
    const items = Array.from({ length: 103 }, (_, i) => i);
    await runBounded(pagesOf(items, 10), 4, async (item) => {
      seen.push(item);
    });
    expect(seen.sort((a, b) => a - b)).toEqual(items);
  });

  it('rejects a limit below one', async () => {
    await expect(runBounded(pagesOf([1], 1), 0, async () => undefined)).rejects.toThrow(RangeError);
  });
});
