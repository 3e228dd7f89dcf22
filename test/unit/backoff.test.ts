import { describe, expect, it } from '@jest/globals';
import { backoffDelay } from '../../web/src/backoff.ts';

describe('backoffDelay', () => {
  it('waits up to base times two to the attempt', () => {
    expect([0, 1, 2, 3].map((attempt) => backoffDelay(attempt, 500, 30_000, () => 0.999_999))).toEqual([
      499, 999, 1999, 3999,
    ]);
  });

  it('never waits longer than the cap, however many attempts failed', () => {
    expect(backoffDelay(50, 500, 30_000, () => 0.999_999)).toBe(29_999);
  });

  it('spreads the waits of clients that failed together (full jitter)', () => {
    const waits = [0, 0.25, 0.5, 0.75].map((r) => backoffDelay(4, 500, 30_000, () => r));
    expect(waits).toEqual([0, 2000, 4000, 6000]);
  });
});
