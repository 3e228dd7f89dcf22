import { describe, expect, it } from '@jest/globals';
import { describeSwitches } from '../support/fault-injection/fault-kinds.ts';
import { failingSeeds, shrinkFailure, suiteSettings, summarise } from '../support/fault-injection/fault-suite.ts';

/** Seeds 1–300 of 60 steps; `FAULT_SEED=<n>` runs one, `FAULTS=all,-<kind>` switches kinds off (fault-kinds.ts). */
const settings = suiteSettings({ firstSeed: 1, seeds: 300, steps: 60 });

describe('the chat under injected faults', () => {
  it(`keeps its invariants once settled, seeds ${String(settings.seeds[0])}–${String(settings.seeds.at(-1))}, ${describeSwitches(settings.switches)}`, async () => {
    const failures = await failingSeeds(settings);
    const first = failures[0];
    const report =
      first === undefined
        ? ''
        : `${failures.length} of ${settings.seeds.length} seeds fail:\n${summarise(failures)}\n\n${await shrinkFailure(first, settings, 400)}`;
    expect(report).toBe('');
  });
});
