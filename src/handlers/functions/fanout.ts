import middy from '@middy/core';
import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { countFanOut } from '../../domain/observability.ts';
import { InvalidFanOutJobError, parseFanOutJob } from '../frames/fan-out-job.ts';
import { observability } from '../middlewares/observability.ts';
import { dependencies } from '../wiring/composition-root.ts';
import type { Dependencies, DependencyProvider } from '../wiring/dependencies.ts';

/**
 * Below this much time left, a batch starts no more records and hands the rest back: a batch that outlives its
 * timeout fails whole, so the records that did succeed would run again and count towards the dead-letter queue.
 */
const MIN_REMAINING_MS = 5_000;

/** Runs one record's job; true when it is done, false when the queue should deliver it again. */
async function runRecord(deps: Dependencies, record: SQSRecord): Promise<boolean> {
  const { service, logger, metrics } = deps;
  const fields = { messageId: record.messageId, receiveCount: record.attributes.ApproximateReceiveCount };
  try {
    const job = parseFanOutJob(record.body);
    const report = job.kind === 'shard' ? await service.deliverShard(job) : await service.flushPresence(job);
    if (report !== undefined) {
      countFanOut(metrics, report);
      logger.info('fan-out', { action: job.kind, ...fields, ...report });
    }
    return true;
  } catch (error) {
    // A job that cannot be read never will be by this version, but only our own code writes jobs: it is a bug, or a
    // job of a newer producer during a deploy. It is reported failed like any other, so that after its receives it
    // lands in the dead-letter queue, where the alarm tells someone and a redrive can run it once the worker reads it.
    const what = error instanceof InvalidFanOutJobError ? 'fan-out job unreadable' : 'fan-out job failed';
    logger.error(what, { ...fields, error });
    return false;
  }
}

/**
 * Builds the fan-out worker, which SQS invokes with batches of jobs: runs each record's job in turn and reports
 * the records to deliver again (`ReportBatchItemFailures`), so that one failing job does not repeat the others.
 */
export function createFanOutHandler(deps: DependencyProvider) {
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(observability<SQSEvent, SQSBatchResponse>(deps))
    .handler(async (event, context) => {
      const resolved = deps();
      const batchItemFailures: SQSBatchItemFailure[] = [];
      // One at a time: a fan-out is bound by CPU and already keeps BROADCAST_CONCURRENCY sends in flight, so
      // running records side by side on the function's one vCPU would not finish the batch sooner.
      for (const record of event.Records) {
        const done = context.getRemainingTimeInMillis() >= MIN_REMAINING_MS && (await runRecord(resolved, record));
        if (!done) batchItemFailures.push({ itemIdentifier: record.messageId });
      }
      return { batchItemFailures };
    });
}

/** The fan-out worker's Lambda handler, triggered by the fan-out queue. */
export const handler = createFanOutHandler(dependencies);
