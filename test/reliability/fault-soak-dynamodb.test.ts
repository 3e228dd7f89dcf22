import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type LocalSqs, localSqsClient, startLocalSqs } from '../../scripts/local-sqs.ts';
import { type DynamoDbTarget, startDynaliteTarget } from '../support/dynamodb.ts';
import {
  dynamoDbStorage,
  faultKindsIn,
  faultKindsOn,
  type FaultTotals,
} from '../support/fault-injection/dynamodb-storage.ts';
import { describeSwitches } from '../support/fault-injection/fault-kinds.ts';
import {
  failingSeeds,
  shrinkFailure,
  type SuiteSettings,
  suiteSettings,
  summarise,
} from '../support/fault-injection/fault-suite.ts';
import {
  emptySqsTotals,
  shardingSeeds,
  sqsFaultKindsIn,
  sqsFaultKindsOn,
  type SqsTarget,
} from '../support/fault-injection/sqs-queue.ts';

/**
 * The DynamoDB fault-injection suite's soak: more seeds than the contract tier's, each a longer workload (seeds
 * 100,000 on, as the in-memory soak's), about a minute and a half; then 12 seeds from 200,000 on that shard big
 * rooms' fan-outs (so that the SQS adapter sends batches), with the fan-out jobs sent through the SQS adapter as
 * well, to fauxqs behind its own fault proxy (sqs-queue.ts), about 40 s. `FAULT_SEED`, `FAULTS`, `FAULT_SKIP` and
 * `FAULT_STEPS` work as there (`FAULT_SEED` and `FAULT_STEPS` for both).
 */
const defaults = suiteSettings({ firstSeed: 100_000, seeds: 40, steps: 100 });
const sqsDefaults = shardingSeeds(suiteSettings({ firstSeed: 200_000, seeds: 60, steps: 100 }), 12);
/** Shrinking candidates, each run up to twice (a run on real sockets may not replay exactly). */
const SHRINK_BUDGET = 40;

describe('the chat on DynamoDB under injected faults, soaked', () => {
  let target: DynamoDbTarget;
  let sqs: LocalSqs | undefined;
  let sqsTarget: SqsTarget;
  const totals: FaultTotals = { forwarded: 0, throttle: 0, dropBefore: 0, dropAfter: 0 };

  beforeAll(async () => {
    target = await startDynaliteTarget();
    sqs = await startLocalSqs(0);
    sqsTarget = { endpoint: sqs.endpoint, client: localSqsClient(sqs.endpoint) };
  }, 60_000);

  afterAll(async () => {
    sqsTarget?.client.destroy();
    await sqs?.stop();
    await target?.stop();
  });

  /** The failing seeds' report, shrunk, or nothing. */
  const reportOf = async (settings: SuiteSettings, faults: () => string): Promise<string> => {
    const failures = await failingSeeds(settings);
    const first = failures[0];
    return first === undefined
      ? ''
      : `${failures.length} of ${settings.seeds.length} seeds fail (faults over all seeds: ${faults()}):\n${summarise(failures)}\n\n${await shrinkFailure(first, settings, SHRINK_BUDGET)}`;
  };

  // The tier's three minutes hold the seeds; a failing one's shrinking gets as long again.
  it(`keeps its invariants once settled, ${String(defaults.seeds.length)} seeds of ${String(defaults.steps)} steps, ${describeSwitches(defaults.switches)}`, async () => {
    const settings = { ...defaults, storage: dynamoDbStorage(target, totals), tries: 2 };
    const report = await reportOf(settings, () => JSON.stringify(totals));
    expect({ report, injected: faultKindsIn(totals) }).toEqual({
      report: '',
      injected: faultKindsOn(settings.switches),
    });
  }, 360_000);

  it(`keeps its invariants with its fan-out jobs through SQS too, ${String(sqsDefaults.seeds.length)} seeds of ${String(sqsDefaults.steps)} steps, ${describeSwitches(sqsDefaults.switches)}`, async () => {
    const dynamoDbTotals: FaultTotals = { forwarded: 0, throttle: 0, dropBefore: 0, dropAfter: 0 };
    const sqsTotals = emptySqsTotals();
    const storage = dynamoDbStorage(target, dynamoDbTotals, { target: sqsTarget, totals: sqsTotals });
    const settings = { ...sqsDefaults, storage, tries: 2 };
    const report = await reportOf(settings, () => JSON.stringify({ dynamoDb: dynamoDbTotals, sqs: sqsTotals }));
    // Every kind of SQS fault switched on was injected, and a replayed send did deliver a job twice.
    expect({ report, injected: faultKindsIn(dynamoDbTotals), sqs: sqsFaultKindsIn(sqsTotals) }).toEqual({
      report: '',
      injected: faultKindsOn(settings.switches),
      sqs: sqsFaultKindsOn(settings.switches),
    });
  }, 360_000);
});
