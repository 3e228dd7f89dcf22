import * as z from 'zod/mini';
import type { FanOutJob } from '../../domain/fan-out-queue.ts';
import type { ServerFrame } from '../../domain/frames.ts';
import { roomSchema } from './inbound-frame.ts';
import './zod.ts';

const text = z.string().check(z.minLength(1), z.maxLength(256));

/**
 * A fan-out job as the queue carries it (`FanOutJob`'s JSON). Keys it does not know are dropped, so a job
 * written by a newer version of the producers still runs as the job this worker knows.
 */
export const fanOutJobSchema = z.union([
  // First the job with an id: a claimed one carries both, and the first object that parses is taken.
  z.object({ kind: z.literal('presence'), room: roomSchema, jobId: text, claimedAt: z.optional(text) }),
  z.object({ kind: z.literal('presence'), room: roomSchema, claimedAt: text }),
  z.object({
    kind: z.literal('shard'),
    fanOutId: text,
    room: roomSchema,
    shard: z.number().check(z.int(), z.gte(0), z.lte(1000)),
    // A job queued before pages were numbered has none: it runs as a first page would, its chain numbered from it.
    page: z._default(z.number().check(z.int(), z.gte(0)), 0),
    after: z.optional(text),
    // The frame is the service's own, written by the message function or a presence flush, and sent as it is:
    // checked only for being a frame, not field by field (asyncapi.yaml's tests check the shapes).
    frame: z.looseObject({ type: z.string().check(z.minLength(1)) }),
  }),
]);

// Fails to compile when the schema and the domain's type drift apart (the frame aside, see above).
const _sameShape: (parsed: z.output<typeof fanOutJobSchema>) => FanOutJob = (parsed) =>
  parsed.kind === 'shard' ? { ...parsed, frame: parsed.frame as unknown as ServerFrame } : parsed;
void _sameShape;

/** A record body that is not a fan-out job. */
export class InvalidFanOutJobError extends Error {
  override readonly name = 'InvalidFanOutJobError';
}

/** Reads one queue message's body as a fan-out job; throws an {@link InvalidFanOutJobError} saying why it is not one. */
export function parseFanOutJob(body: string): FanOutJob {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new InvalidFanOutJobError('the body is not JSON', { cause: error });
  }
  const parsed = fanOutJobSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'job'}: ${issue.message}`);
    throw new InvalidFanOutJobError(`not a fan-out job (${issues.join('; ')})`, { cause: parsed.error });
  }
  const job = parsed.data;
  return job.kind === 'shard' ? { ...job, frame: job.frame as unknown as ServerFrame } : job;
}
