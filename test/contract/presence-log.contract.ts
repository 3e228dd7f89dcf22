import { describe, expect, it } from '@jest/globals';
import type { PresenceChange, PresenceClock, PresenceLog } from '../../src/domain/presence.ts';

/** A log and the way its adapter keeps one change on its own (the chat keeps them with connection changes). */
type RecordingPresenceLog = PresenceLog & {
  record(room: string, change: PresenceChange, memberDelta: number): Promise<PresenceClock>;
};

const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const LONG_AGO = at(-3_600_000);

function change(connectionId: string, ms: number, event: PresenceChange['event'] = 'join', rev = 0): PresenceChange {
  return { event, connectionId, name: `Name ${connectionId}`, rev, at: at(ms).toISOString() };
}

/** What every PresenceLog adapter must do; run once per adapter. `create` returns an empty log. */
export function presenceLogContract(adapter: string, create: () => Promise<RecordingPresenceLog>): void {
  describe(`PresenceLog contract: ${adapter}`, () => {
    it('keeps changes pending in the order they happened, and counts members by joins and leaves', async () => {
      const log = await create();
      await log.record('red', change('b', 20), 1);
      await log.record('red', change('a', 10), 1);
      const clock = await log.record('red', change('a', 30, 'leave', 1), -1);

      const pending = await log.pending('red', 10);

      expect({ clock, changes: pending.map((p) => p.change) }).toEqual({
        clock: { members: 1, lastChangeAt: at(30) },
        changes: [change('a', 10), change('b', 20), change('a', 30, 'leave', 1)],
      });
    });

    it('keeps each room on its own', async () => {
      const log = await create();
      await log.record('red', change('a', 10), 1);
      await log.record('blue', change('b', 10), 1);

      expect({
        red: (await log.pending('red', 10)).map((p) => p.change.connectionId),
        blue: (await log.clock('blue')).members,
        green: { pending: await log.pending('green', 10), clock: await log.clock('green') },
      }).toEqual({ red: ['a'], blue: 1, green: { pending: [], clock: { members: 0 } } });
    });

    it('returns at most the limit, oldest first, and forgets what it is told to, only that', async () => {
      const log = await create();
      for (let i = 0; i < 30; i += 1) await log.record('red', change(`m${String(i).padStart(2, '0')}`, i), 1);

      const first = await log.pending('red', 12);
      await log.forget(
        'red',
        first.map((p) => p.key),
      );
      await log.forget('red', ['not-a-key']);
      const rest = await log.pending('red', 100);

      expect({ first: first.length, rest: rest.map((p) => p.change.connectionId) }).toEqual({
        first: 12,
        rest: Array.from({ length: 18 }, (_, i) => `m${String(i + 12).padStart(2, '0')}`),
      });
    });

    it('lets one of two racing claims of a quiet room flush at once, and records when, as due by its job', async () => {
      const log = await create();
      const clock = await log.record('red', change('a', 0), 1);

      const claims = await Promise.all([
        log.claimFlush('red', clock.lastFlushAt, at(0), at(-1000), LONG_AGO, 'claim-0'),
        log.claimFlush('red', clock.lastFlushAt, at(1), at(-999), LONG_AGO, 'claim-1'),
      ]);

      const winner = claims[0] ? { at: at(0), jobId: 'claim-0' } : { at: at(1), jobId: 'claim-1' };
      expect({ winners: claims.filter(Boolean).length, clock: await log.clock('red') }).toEqual({
        winners: 1,
        clock: {
          members: 1,
          lastFlushAt: winner.at,
          lastChangeAt: at(0),
          scheduled: { due: winner.at, jobId: winner.jobId },
        },
      });
    });

    it('refuses a claim while a claimed flush has not started, the window of the last flush is open, or a trailing flush is scheduled', async () => {
      const log = await create();
      await log.record('red', change('a', 0), 1);
      expect(await log.claimFlush('red', undefined, at(0), at(-1000), LONG_AGO, 'job-0')).toBe(true);

      const claimedNotStarted = await log.claimFlush('red', at(0), at(1500), at(500), LONG_AGO, 'job-x');
      const started = await log.startScheduledFlush('red', 'job-0', at(10), at(0));
      const inWindow = await log.claimFlush('red', at(10), at(500), at(-500), LONG_AGO, 'job-x');
      const scheduled = await log.scheduleFlush('red', at(1010), 'job-1', LONG_AGO);
      const afterWindowButScheduled = await log.claimFlush('red', at(10), at(1500), at(500), LONG_AGO, 'job-x');

      expect({ claimedNotStarted, started, inWindow, scheduled, afterWindowButScheduled }).toEqual({
        claimedNotStarted: false,
        started: true,
        inWindow: false,
        scheduled: true,
        afterWindowButScheduled: false,
      });
    });

    it('lets one of two racing requests of a quiet room flush at once with no read first, and gives the loser the clock that refused it', async () => {
      const log = await create();
      await log.record('red', change('a', 0), 1);

      const requests = await Promise.all([
        log.requestFlush('red', at(0), at(-1000), LONG_AGO, 'request-0'),
        log.requestFlush('red', at(1), at(-999), LONG_AGO, 'request-1'),
      ]);

      const won = requests.findIndex((request) => request === true);
      const winner = { at: at(won), jobId: `request-${won}` };
      const clock = {
        members: 1,
        lastFlushAt: winner.at,
        lastChangeAt: at(0),
        scheduled: { due: winner.at, jobId: winner.jobId },
      };
      expect({
        winners: requests.filter((request) => request === true).length,
        loser: requests[1 - won],
        clock: await log.clock('red'),
      }).toEqual({
        winners: 1,
        loser: clock,
        clock,
      });
    });

    it('refuses a request while a claimed flush has not started, the window of the last flush is open, or a trailing flush is scheduled, and takes one long overdue as lost', async () => {
      const log = await create();
      await log.record('red', change('a', 0), 1);
      expect(await log.requestFlush('red', at(0), at(-1000), LONG_AGO, 'job-0')).toBe(true);

      const claimedNotStarted = await log.requestFlush('red', at(1500), at(500), LONG_AGO, 'job-x');
      await log.startScheduledFlush('red', 'job-0', at(10), at(0));
      const inWindow = await log.requestFlush('red', at(500), at(-500), LONG_AGO, 'job-x');
      await log.scheduleFlush('red', at(1010), 'job-1', LONG_AGO);
      const afterWindowButScheduled = await log.requestFlush('red', at(1500), at(500), LONG_AGO, 'job-x');
      const overdue = await log.requestFlush('red', at(9000), at(8000), at(2000), 'job-2');

      expect({ claimedNotStarted, inWindow, afterWindowButScheduled, overdue, clock: await log.clock('red') }).toEqual({
        claimedNotStarted: expect.objectContaining({ scheduled: { due: at(0), jobId: 'job-0' } }),
        inWindow: expect.objectContaining({ lastFlushAt: at(10) }),
        afterWindowButScheduled: expect.objectContaining({ scheduled: { due: at(1010), jobId: 'job-1' } }),
        overdue: true,
        clock: expect.objectContaining({ lastFlushAt: at(9000), scheduled: { due: at(9000), jobId: 'job-2' } }),
      });
    });

    it('schedules one trailing flush at a time, and replaces one that is long overdue', async () => {
      const log = await create();

      const first = await log.scheduleFlush('red', at(1000), 'job-1', LONG_AGO);
      const second = await log.scheduleFlush('red', at(1000), 'job-2', LONG_AGO);
      const replacing = await log.scheduleFlush('red', at(90_000), 'job-3', at(60_000));

      expect({ first, second, replacing, clock: await log.clock('red') }).toEqual({
        first: true,
        second: false,
        replacing: true,
        clock: { members: 0, scheduled: { due: at(90_000), jobId: 'job-3' } },
      });
    });

    it('starts only the scheduled flush it names, once its window is over, and clears the schedule', async () => {
      const log = await create();
      await log.claimFlush('red', undefined, at(0), at(-1000), LONG_AGO, 'job-0');
      await log.startScheduledFlush('red', 'job-0', at(0), at(0));
      await log.scheduleFlush('red', at(1000), 'job-1', LONG_AGO);

      const early = await log.startScheduledFlush('red', 'job-1', at(400), at(-600));
      const other = await log.startScheduledFlush('red', 'job-9', at(1000), at(0));
      const due = await log.startScheduledFlush('red', 'job-1', at(1000), at(0));

      expect({ early, other, due, clock: await log.clock('red') }).toEqual({
        early: { members: 0, lastFlushAt: at(0), scheduled: { due: at(1000), jobId: 'job-1' } },
        other: { members: 0, lastFlushAt: at(0), scheduled: { due: at(1000), jobId: 'job-1' } },
        due: true,
        clock: { members: 0, lastFlushAt: at(1000) },
      });
    });

    it('starts a flush again for the job that started it until another starts, so a replay or a rerun of it still sends', async () => {
      const log = await create();
      await log.scheduleFlush('red', at(1000), 'job-1', LONG_AGO);

      const first = await log.startScheduledFlush('red', 'job-1', at(1000), at(0));
      const replayed = await log.startScheduledFlush('red', 'job-1', at(1000), at(0));
      const rerun = await log.startScheduledFlush('red', 'job-1', at(200_000), at(199_000));
      await log.scheduleFlush('red', at(2000), 'job-2', LONG_AGO);
      const next = await log.startScheduledFlush('red', 'job-2', at(2000), at(1000));
      const overtaken = await log.startScheduledFlush('red', 'job-1', at(300_000), at(299_000));

      expect({ first, replayed, rerun, next, overtaken }).toEqual({
        first: true,
        replayed: true,
        rerun: true,
        next: true,
        overtaken: { members: 0, lastFlushAt: at(2000) },
      });
    });

    it('never counts fewer than no members', async () => {
      const log = await create();
      const clock = await log.record('red', change('a', 0, 'leave', 1), -1);
      expect(clock.members).toBe(0);
    });
  });
}
