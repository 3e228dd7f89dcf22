import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DynamoDbTarget, startDynaliteTarget } from '../support/dynamodb.ts';
import {
  dynamoDbStorage,
  faultKindsIn,
  faultKindsOn,
  type FaultTotals,
} from '../support/fault-injection/dynamodb-storage.ts';
import { describeSwitches } from '../support/fault-injection/fault-kinds.ts';
import { failingSeeds, shrinkFailure, suiteSettings, summarise } from '../support/fault-injection/fault-suite.ts';

/**
 * The DynamoDB fault-injection suite's soak: more seeds than the contract tier's, each a longer workload (seeds
 * 100,000 on, as the in-memory soak's), about a minute and a half. `FAULT_SEED`, `FAULTS`, `FAULT_SKIP` and
 * `FAULT_STEPS` work as there.
 */
const defaults = suiteSettings({ firstSeed: 100_000, seeds: 40, steps: 100 });
/** Shrinking candidates, each run up to twice (a run on real sockets may not replay exactly). */
const SHRINK_BUDGET = 40;

describe('the chat on DynamoDB under injected faults, soaked', () => {
  let target: DynamoDbTarget;
  const totals: FaultTotals = { forwarded: 0, throttle: 0, dropBefore: 0, dropAfter: 0 };

  beforeAll(async () => {
    target = await startDynaliteTarget();
  }, 60_000);

  afterAll(async () => {
    await target?.stop();
  });

  // The tier's three minutes hold the seeds; a failing one's shrinking gets as long again.
  it(`keeps its invariants once settled, ${String(defaults.seeds.length)} seeds of ${String(defaults.steps)} steps, ${describeSwitches(defaults.switches)}`, async () => {
    const settings = { ...defaults, storage: dynamoDbStorage(target, totals), tries: 2 };
    const failures = await failingSeeds(settings);
    const first = failures[0];
    const report =
      first === undefined
        ? ''
        : `${failures.length} of ${settings.seeds.length} seeds fail (faults over all seeds: ${JSON.stringify(totals)}):\n${summarise(failures)}\n\n${await shrinkFailure(first, settings, SHRINK_BUDGET)}`;
    expect({ report, injected: faultKindsIn(totals) }).toEqual({
      report: '',
      injected: faultKindsOn(settings.switches),
    });
  }, 360_000);
});
