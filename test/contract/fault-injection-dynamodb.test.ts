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
 * The fault-injection suite's workloads on the DynamoDB adapters: dynalite, a fresh table per run, behind the
 * HTTP fault proxy (throttles, requests dropped before they apply, answers lost after, which the SDK replays).
 * Seeds 1–24 of 40 steps; `FAULT_SEED`, `FAULTS`, `FAULT_SKIP` and `FAULT_STEPS` work as in the unit tier.
 */
const defaults = suiteSettings({ firstSeed: 1, seeds: 24, steps: 40 });
/** Shrinking candidates, each run up to twice (a run on real sockets may not replay exactly): the test gets five minutes for them. */
const SHRINK_BUDGET = 40;

describe('the chat on DynamoDB under injected faults', () => {
  let target: DynamoDbTarget;
  const totals: FaultTotals = { forwarded: 0, throttle: 0, dropBefore: 0, dropAfter: 0 };

  beforeAll(async () => {
    target = await startDynaliteTarget();
  }, 60_000);

  afterAll(async () => {
    await target?.stop();
  });

  it(`keeps its invariants once settled, seeds ${String(defaults.seeds[0])}–${String(defaults.seeds.at(-1))}, ${describeSwitches(defaults.switches)}`, async () => {
    const settings = { ...defaults, storage: dynamoDbStorage(target, totals), tries: 2 };
    const failures = await failingSeeds(settings);
    const first = failures[0];
    const report =
      first === undefined
        ? ''
        : `${failures.length} of ${settings.seeds.length} seeds fail (faults over all seeds: ${JSON.stringify(totals)}):\n${summarise(failures)}\n\n${await shrinkFailure(first, settings, SHRINK_BUDGET)}`;
    // Every kind of fault switched on was injected: the suite tests what it says it does.
    expect({ report, injected: faultKindsIn(totals) }).toEqual({
      report: '',
      injected: faultKindsOn(settings.switches),
    });
  }, 300_000);
});
