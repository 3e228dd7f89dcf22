import { describe, expect, it } from '@jest/globals';
import type { Admission, RateLimit, RateLimiter } from '../../src/domain/rate-limiter.ts';

export interface RateLimiterFactory {
  /** A limiter with that budget and clock; `register` stores a connection, as $connect would. */
  (limit: RateLimit, now: () => Date): Promise<{ limiter: RateLimiter; register(connectionId: string): Promise<void> }>;
}

async function admitMany(limiter: RateLimiter, connectionId: string, count: number): Promise<Admission[]> {
  const admissions: Admission[] = [];
  for (let i = 0; i < count; i += 1) admissions.push(await limiter.admit(connectionId));
  return admissions;
}

/** What every RateLimiter adapter must do; run once per adapter. */
export function rateLimiterContract(adapter: string, create: RateLimiterFactory): void {
  describe(`RateLimiter contract: ${adapter}`, () => {
    const start = new Date('2030-01-01T00:00:00.000Z');

    it('admits a budget of frames per window, then says so once, then drops quietly', async () => {
      const { limiter, register } = await create({ frames: 3, windowSeconds: 10 }, () => start);
      await register('a');

      expect(await admitMany(limiter, 'a', 6)).toEqual([
        'allowed',
        'allowed',
        'allowed',
        'limited-notify',
        'limited',
        'limited',
      ]);
    });

    it('starts a fresh budget in the next window', async () => {
      let now = start;
      const { limiter, register } = await create({ frames: 2, windowSeconds: 10 }, () => now);
      await register('a');
      await admitMany(limiter, 'a', 3);

      now = new Date(start.getTime() + 10_000);

      expect(await admitMany(limiter, 'a', 3)).toEqual(['allowed', 'allowed', 'limited-notify']);
    });

    it("keeps each connection's budget apart", async () => {
      const { limiter, register } = await create({ frames: 1, windowSeconds: 10 }, () => start);
      await register('a');
      await register('b');
      await admitMany(limiter, 'a', 3);

      expect(await limiter.admit('b')).toBe('allowed');
    });

    it('admits exactly the budget when many frames arrive at once, as from many containers', async () => {
      const { limiter, register } = await create({ frames: 5, windowSeconds: 60 }, () => start);
      await register('a');

      const admissions = await Promise.all(Array.from({ length: 25 }, () => limiter.admit('a')));

      expect(admissions.filter((a) => a === 'allowed')).toHaveLength(5);
      expect(admissions.filter((a) => a === 'limited-notify')).toHaveLength(1);
    });

    it('counts a frame from a container whose clock is a little behind into the newer window, under budget', async () => {
      let now = new Date(start.getTime() + 10_500);
      const { limiter, register } = await create({ frames: 3, windowSeconds: 10 }, () => now);
      await register('a');
      await limiter.admit('a');

      now = new Date(start.getTime() + 9_500);

      expect(await admitMany(limiter, 'a', 3)).toEqual(['allowed', 'allowed', 'limited-notify']);
    });

    it('says limited once per window even when containers disagree about the window a little', async () => {
      let now = new Date(start.getTime() + 10_500);
      const { limiter, register } = await create({ frames: 1, windowSeconds: 10 }, () => now);
      await register('a');
      const ahead = await admitMany(limiter, 'a', 2);

      now = new Date(start.getTime() + 9_500);

      expect([...ahead, ...(await admitMany(limiter, 'a', 2))]).toEqual([
        'allowed',
        'limited-notify',
        'limited',
        'limited',
      ]);
    });

    it('counts each frame by its weight, and tells the frame that crosses the budget', async () => {
      const { limiter, register } = await create({ frames: 10, windowSeconds: 10 }, () => start);
      await register('a');

      const admissions = [
        await limiter.admit('a', 4),
        await limiter.admit('a', 4),
        await limiter.admit('a', 4),
        await limiter.admit('a', 1),
      ];

      expect(admissions).toEqual(['allowed', 'allowed', 'limited-notify', 'limited']);
    });
  });
}
