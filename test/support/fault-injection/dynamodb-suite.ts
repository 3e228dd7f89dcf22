import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type LocalSqs, localSqsClient, startLocalSqs } from '../../../scripts/local-sqs.ts';
import { type DynamoDbTarget, startDynaliteTarget } from '../dynamodb.ts';
import { dynamoDbStorage, faultKindsIn, faultKindsOn, type FaultTotals } from './dynamodb-storage.ts';
import { describeSwitches } from './fault-kinds.ts';
import { failingSeeds, shrinkFailure, type SuiteSettings, summarise } from './fault-suite.ts';
import { emptySqsTotals, sqsFaultKindsIn, sqsFaultKindsOn, type SqsTarget } from './sqs-queue.ts';

/**
 * The fault-injection suite's workloads on the DynamoDB adapters: dynalite, a fresh table per run, behind the
 * HTTP fault proxy (throttles, requests dropped before they apply, answers lost after, which the SDK replays); then
 * seeds that shard big rooms' fan-outs (so that the SQS adapter sends batches), with the fan-out jobs sent through
 * the SQS adapter as well, to fauxqs behind its own fault proxy (sqs-queue.ts). The contract tier and the soak run
 * it with seeds of their own.
 */
export function describeDynamoDbFaults(
  title: string,
  defaults: SuiteSettings,
  sqsDefaults: SuiteSettings,
  shrinkBudget: number,
): void {
  describe(title, () => {
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
        : `${failures.length} of ${settings.seeds.length} seeds fail (faults over all seeds: ${faults()}):\n${summarise(failures)}\n\n${await shrinkFailure(first, settings, shrinkBudget)}`;
    };

    it(`keeps its invariants once settled, seeds ${String(defaults.seeds[0])}–${String(defaults.seeds.at(-1))}, ${describeSwitches(defaults.switches)}`, async () => {
      const settings = { ...defaults, storage: dynamoDbStorage(target, totals), tries: 2 };
      const report = await reportOf(settings, () => JSON.stringify(totals));
      // Every kind of fault switched on was injected: the suite tests what it says it does.
      expect({ report, injected: faultKindsIn(totals) }).toEqual({
        report: '',
        injected: faultKindsOn(settings.switches),
      });
    }, 300_000);

    it(`keeps its invariants with its fan-out jobs through SQS too, seeds ${sqsDefaults.seeds.join(', ')}, ${describeSwitches(sqsDefaults.switches)}`, async () => {
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
    }, 300_000);
  });
}
