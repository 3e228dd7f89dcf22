import { describe, expect, it } from '@jest/globals';
import { describeSwitches } from '../support/fault-injection/fault-kinds.ts';
import { failingSeeds, shrinkFailure, suiteSettings, summarise } from '../support/fault-injection/fault-suite.ts';

/**
 * The fault-injection suite's soak: more seeds than the unit tier's, each a longer workload (seeds 100,000 on, so
 * none repeats a unit-tier seed). `FAULT_SEED`, `FAULTS`, `FAULT_SKIP` and `FAULT_STEPS` work as there.
 */
const settings = suiteSettings({ firstSeed: 100_000, seeds: 1_000, steps: 200 });

describe('the chat under injected faults, soaked', () => {
  it(`keeps its invariants once settled, ${String(settings.seeds.length)} seeds of ${String(settings.steps)} steps, ${describeSwitches(settings.switches)}`, async () => {
    const failures = await failingSeeds(settings);
    const first = failures[0];
    const report =
      first === undefined
        ? ''
        : `${failures.length} of ${settings.seeds.length} seeds fail:\n${summarise(failures)}\n\n${await shrinkFailure(first, settings, 600)}`;
    expect(report).toBe('');
  });
});
