import { describeDynamoDbFaults } from '../support/fault-injection/dynamodb-suite.ts';
import { suiteSettings } from '../support/fault-injection/fault-suite.ts';
import { shardingSeeds } from '../support/fault-injection/sqs-queue.ts';

/**
 * The fault-injection suite's workloads on the DynamoDB adapters: dynalite, a fresh table per run, behind the
 * HTTP fault proxy (throttles, requests dropped before they apply, answers lost after, which the SDK replays).
 * Seeds 1–24 of 40 steps; then 10 seeds of 60 steps from 1001 on that shard big rooms' fan-outs (so that the SQS
 * adapter sends batches), with the fan-out jobs sent through the SQS adapter as well, to fauxqs behind its own
 * fault proxy (sqs-queue.ts). `FAULT_SEED`, `FAULTS`, `FAULT_SKIP` and `FAULT_STEPS` work as in the unit tier
 * (`FAULT_SEED` and `FAULT_STEPS` for both).
 */
const defaults = suiteSettings({ firstSeed: 1, seeds: 24, steps: 40 });
const sqsDefaults = shardingSeeds(suiteSettings({ firstSeed: 1001, seeds: 30, steps: 60 }), 10);
/** Shrinking candidates, each run up to twice (a run on real sockets may not replay exactly): the test gets five minutes for them. */
const SHRINK_BUDGET = 40;

describeDynamoDbFaults('the chat on DynamoDB under injected faults', defaults, sqsDefaults, SHRINK_BUDGET);
