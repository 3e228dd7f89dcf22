import { describeDynamoDbFaults } from '../support/fault-injection/dynamodb-suite.ts';
import { suiteSettings } from '../support/fault-injection/fault-suite.ts';
import { shardingSeeds } from '../support/fault-injection/sqs-queue.ts';

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

describeDynamoDbFaults('the chat on DynamoDB under injected faults, soaked', defaults, sqsDefaults, SHRINK_BUDGET);
