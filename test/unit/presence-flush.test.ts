import { describe, expect, it } from '@jest/globals';
import { InMemoryFanOutQueue } from '../../src/adapters/in-memory-fan-out-queue.ts';
import { InMemoryPresenceLog } from '../../src/adapters/in-memory-presence-log.ts';
import type { PresenceBatchFrame, PresenceFrame } from '../../src/domain/frames.ts';
import type { PresenceChange } from '../../src/domain/presence.ts';
import { LOST_FLUSH_MS, PresenceFlush } from '../../src/domain/presence-flush.ts';
import { T0 } from '../support/service-fixtures.ts';

const WINDOW_MS = 1000;

/** The presence workflow alone: its log and queue in memory, a clock the test moves, broadcasts recorded. */
function presenceFlush() {
  let now = T0.getTime();
  const clock = (): Date => new Date(now);
  const presence = new InMemoryPresenceLog();
  const queue = new InMemoryFanOutQueue(clock);
  const broadcasts: Array<PresenceFrame | PresenceBatchFrame> = [];
  let ids = 0;
  const flush = new PresenceFlush({
    presence,
    fanOutQueue: queue,
    presenceWindowMs: WINDOW_MS,
    bigRoomSize: 100,
    broadcast: async (_room, frame) => {
      broadcasts.push(frame);
      return frame.type;
    },
    now: clock,
    newId: () => `job-${++ids}`,
  });
  return {
    flush,
    presence,
    queue,
    broadcasts,
    advance: (ms: number) => (now += ms),
    /** Keeps a change, as the connection repository does with the write that causes it, and asks for its flush. */
    async announce(room: string, change: PresenceChange, memberDelta: number): Promise<void> {
      presence.keep([{ room, change, memberDelta }]);
      await flush.requestFor([room]);
    },
    /** Runs the queue's due jobs, as the fan-out worker does. */
    async runDue(): Promise<void> {
      for (const job of queue.takeDue()) if (job.kind === 'presence') await flush.flush(job);
    },
  };
}

function join(connectionId: string): PresenceChange {
  return { event: 'join', connectionId, name: connectionId, rev: 0, at: T0.toISOString() };
}

describe('PresenceFlush', () => {
  it("records a quiet room's flush as scheduled under its job before queueing the job, claimed at once", async () => {
    const p = presenceFlush();

    await p.announce('hall', join('A'), 1);

    expect({ clock: await p.presence.clock('hall'), queued: p.queue.pending().map(({ job }) => job) }).toEqual({
      clock: { members: 1, lastFlushAt: T0, lastChangeAt: T0, scheduled: { due: T0, jobId: 'job-1' } },
      queued: [{ kind: 'presence', room: 'hall', jobId: 'job-1', claimedAt: T0.toISOString() }],
    });
  });

  it('sends the changes of a job that runs again after failing, and nothing for a copy another flush overtook', async () => {
    const p = presenceFlush();
    await p.announce('hall', join('A'), 1);
    const [job] = p.queue.takeDue();
    if (job?.kind !== 'presence') throw new Error('no flush was queued');
    const forget = p.presence.forget.bind(p.presence);
    p.presence.forget = () => Promise.reject(new Error('throttled'));
    await expect(p.flush.flush(job)).rejects.toThrow('throttled');
    p.presence.forget = forget;

    const rerun = await p.flush.flush(job);
    p.advance(WINDOW_MS + 1);
    await p.announce('hall', join('B'), 1);
    await p.runDue();
    const overtaken = await p.flush.flush(job);

    expect({ rerun, overtaken, sent: p.broadcasts.map((frame) => frame.type) }).toEqual({
      rerun: 'presence',
      overtaken: undefined,
      sent: ['presence', 'presence', 'presence'],
    });
  });

  it('schedules again a flush whose job could not be queued, once it is long overdue and the room is read', async () => {
    const p = presenceFlush();
    const enqueue = p.queue.enqueue.bind(p.queue);
    p.queue.enqueue = () => Promise.reject(new Error('queue unavailable'));
    await expect(p.announce('hall', join('A'), 1)).rejects.toThrow('queue unavailable');
    p.queue.enqueue = enqueue;

    const early = await p.presence.clock('hall');
    await p.flush.resumeLost('hall', early);
    const queuedEarly = p.queue.pending().length;
    p.advance(LOST_FLUSH_MS + 1);
    await p.flush.resumeLost('hall', await p.presence.clock('hall'));
    await p.runDue();

    expect({ queuedEarly, sent: p.broadcasts.map((frame) => frame.type === 'presence' && frame.connectionId) }).toEqual(
      { queuedEarly: 0, sent: ['A'] },
    );
  });

  it('keeps at most one presence job of a room queued however much the room churns while its job waits', async () => {
    const p = presenceFlush();
    let mostQueued = 0;

    // Ten changes a second for 50 s, less than a flush takes to be taken for lost, and no worker runs the job.
    for (let i = 0; i < 500; i += 1) {
      await p.announce('hall', join(`C${i}`), 1);
      mostQueued = Math.max(mostQueued, p.queue.pending().length);
      p.advance(100);
    }

    expect(mostQueued).toBe(1);
  });

  it('queues at most one presence job of a churning room per window while the worker keeps up', async () => {
    const p = presenceFlush();
    const jobsPerWindow: number[] = [];

    for (let window = 0; window < 20; window += 1) {
      for (let i = 0; i < 10; i += 1) {
        await p.announce('hall', join(`W${window}-${i}`), 1);
        p.advance(WINDOW_MS / 10);
      }
      const due = p.queue.pending().filter(({ dueAt }) => dueAt.getTime() <= T0.getTime() + (window + 1) * WINDOW_MS);
      jobsPerWindow.push(due.length);
      await p.runDue();
    }

    expect({ most: Math.max(...jobsPerWindow), frames: p.broadcasts.length }).toEqual({ most: 1, frames: 20 });
  });

  it('lists every change of a room up to the big-room size in some frame, however many its window holds', async () => {
    const p = presenceFlush();
    const visitors = 300;
    // A window's churn in a room that stays small: each visitor joins and leaves again, two changes each.
    for (let i = 0; i < visitors; i += 1) {
      await p.presence.record('hall', join(`V${i}`), 1);
      await p.presence.record('hall', { ...join(`V${i}`), event: 'leave', rev: 1 }, -1);
    }
    await p.presence.record('hall', join('stayer'), 20);

    await p.announce('hall', join('last'), 0);
    for (let window = 0; window < 5; window += 1) {
      await p.runDue();
      p.advance(WINDOW_MS + 1);
    }

    const listed = p.broadcasts.flatMap((frame) =>
      frame.type === 'presence' ? [frame.connectionId] : frame.changes.map((change) => change.connectionId),
    );
    expect({
      listed: listed.length,
      incomplete: p.broadcasts.filter((frame) => frame.type === 'presence_batch' && !frame.complete).length,
    }).toEqual({ listed: 2 * visitors + 2, incomplete: 0 });
  });
});
