import { describe, expect, it } from '@jest/globals';
import { SendLimiter } from '../../web/src/send-limiter.ts';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let time = 1_000;
  return { now: () => time, advance: (ms) => (time += ms) };
}

function takeAll(limiter: SendLimiter): number {
  let taken = 0;
  while (limiter.tryTake()) taken += 1;
  return taken;
}

describe('SendLimiter', () => {
  it('allows a burst up to its capacity, then nothing', () => {
    const limiter = new SendLimiter(8, 1_000, clock().now);

    expect(takeAll(limiter)).toBe(8);
  });

  it('allows one more frame per refill interval', () => {
    const time = clock();
    const limiter = new SendLimiter(8, 1_000, time.now);
    takeAll(limiter);

    time.advance(3_500);

    expect(takeAll(limiter)).toBe(3);
  });

  it('never holds more than its capacity, however long it was idle', () => {
    const time = clock();
    const limiter = new SendLimiter(8, 1_000, time.now);

    time.advance(3_600_000);

    expect(takeAll(limiter)).toBe(8);
  });

  it('says how long until the next frame may go', () => {
    const time = clock();
    const limiter = new SendLimiter(2, 1_000, time.now);
    takeAll(limiter);

    time.advance(250);

    expect(limiter.msUntilNext()).toBe(750);
  });

  it('refills nothing when the clock steps back', () => {
    const time = clock();
    const limiter = new SendLimiter(2, 1_000, time.now);
    takeAll(limiter);

    time.advance(-60_000);

    expect(limiter.tryTake()).toBe(false);
  });
});
