import { describe, expect, it } from '@jest/globals';
import type { OwnerBudget, OwnerBudgetLimit } from '../../src/domain/owner-budget.ts';

export interface OwnerBudgetFactory {
  /** A budget with that limit and clock, and `allows`: whether a save checking that many units would be let through. */
  (
    limit: OwnerBudgetLimit,
    now: () => Date,
  ): Promise<{ budget: OwnerBudget; allows(owner: string, weight: number): Promise<boolean> }>;
}

async function spendMany(budget: OwnerBudget, owner: string, count: number, weight = 1): Promise<string[]> {
  const spends: string[] = [];
  for (let i = 0; i < count; i += 1) spends.push(await budget.spend(owner, weight));
  return spends;
}

/** What every OwnerBudget adapter must do; run once per adapter. */
export function ownerBudgetContract(adapter: string, create: OwnerBudgetFactory): void {
  describe(`OwnerBudget contract: ${adapter}`, () => {
    const start = new Date('2030-01-01T00:00:00.000Z');
    const at = (ms: number) => new Date(start.getTime() + ms);

    it('admits a whole budget at once, then says so once, then refuses quietly', async () => {
      const { budget } = await create({ frames: 3, windowSeconds: 10 }, () => start);

      expect(await spendMany(budget, 'ip:a', 6)).toEqual([
        'allowed',
        'allowed',
        'allowed',
        'limited-notify',
        'limited',
        'limited',
      ]);
    });

    it('gives a unit back every window over its frames, and a refused frame spends nothing', async () => {
      let now = start;
      const { budget } = await create({ frames: 4, windowSeconds: 8 }, () => now);
      await spendMany(budget, 'ip:a', 6);

      now = at(1_999);
      expect(await budget.spend('ip:a', 1)).toBe('limited');
      now = at(2_000);
      expect(await spendMany(budget, 'ip:a', 2)).toEqual(['allowed', 'limited-notify']);
      now = at(6_000);
      expect(await spendMany(budget, 'ip:a', 3)).toEqual(['allowed', 'allowed', 'limited-notify']);
    });

    it('admits at most twice its frames over any window, however the frames are spread', async () => {
      let now = start;
      const { budget } = await create({ frames: 10, windowSeconds: 10 }, () => now);
      const admittedAt: number[] = [];
      // A frame every 100 ms for 30 s, from an owner that never stops.
      for (let ms = 0; ms < 30_000; ms += 100) {
        now = at(ms);
        if ((await budget.spend('ip:a', 1)) === 'allowed') admittedAt.push(ms);
      }

      const mostInAnyWindow = Math.max(
        ...admittedAt.map((from) => admittedAt.filter((ms) => ms >= from && ms < from + 10_000).length),
      );
      expect(mostInAnyWindow).toBeLessThanOrEqual(20);
      expect(mostInAnyWindow).toBeGreaterThanOrEqual(19);
    });

    it('weighs a frame by its weight, and refuses one heavier than what is left', async () => {
      const { budget } = await create({ frames: 10, windowSeconds: 10 }, () => start);

      expect(await budget.spend('ip:a', 8)).toBe('allowed');
      expect(await budget.spend('ip:a', 3)).toBe('limited-notify');
      expect(await budget.spend('user:b', 10)).toBe('allowed');
    });

    it("keeps each owner's budget apart", async () => {
      const { budget } = await create({ frames: 1, windowSeconds: 10 }, () => start);
      await spendMany(budget, 'ip:a', 3);

      expect(await budget.spend('ip:b', 1)).toBe('allowed');
      expect(await budget.spend('user:a', 1)).toBe('allowed');
    });

    it('charges a connect even over budget, up to two windows of debt, and its frames wait for it', async () => {
      let now = start;
      const { budget, allows } = await create({ frames: 10, windowSeconds: 10 }, () => now);
      expect(await allows('ip:a', 5)).toBe(true);

      for (let i = 0; i < 10; i += 1) await budget.charge('ip:a', 5);

      expect(await allows('ip:a', 5)).toBe(false);
      expect(await budget.spend('ip:a', 1)).toBe('limited-notify');
      // Charged up to 20 s ahead, and once more from there: 25 s ahead, of which a window's worth is budget.
      now = at(15_999);
      expect(await allows('ip:a', 1)).toBe(false);
      now = at(16_000);
      expect(await allows('ip:a', 1)).toBe(true);
      expect(await budget.spend('ip:a', 1)).toBe('allowed');
    });

    it('admits at most the budget when many frames arrive at once, as from many containers', async () => {
      const { budget } = await create({ frames: 5, windowSeconds: 60 }, () => start);

      const spends = await Promise.all(Array.from({ length: 20 }, () => budget.spend('ip:a', 1)));

      expect(spends.filter((spend) => spend === 'allowed')).toHaveLength(5);
    });
  });
}
