import { describe, expect, it } from '@jest/globals';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryPresenceLog } from '../../src/adapters/in-memory-presence-log.ts';
import type { ChatService } from '../../src/domain/chat-service.ts';
import { BIG_ROOM_LISTED_CHANGES, LOST_FLUSH_MS } from '../../src/domain/presence-flush.ts';
import type { PresenceJob } from '../../src/domain/fan-out-queue.ts';
import type { ServerFrame } from '../../src/domain/frames.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { summary } from '../support/frame-summary.ts';
import { InProcessFanOut } from '../support/in-process-fan-out.ts';
import { serviceOver, T0 } from '../support/service-fixtures.ts';

const WINDOW_MS = 1000;

/** A chat with a one-second presence window, a clock the test moves, and the fan-out worker in process. */
function windowedChat(options: { bigRoomSize?: number } = {}) {
  let now = T0.getTime();
  const clock = (): Date => new Date(now);
  const presence = new InMemoryPresenceLog();
  const connections = new InMemoryConnectionRepository({ pageSize: 50, now: clock, presence });
  const messenger = new RecordingMessenger();
  const fanOut = new InProcessFanOut(clock);
  const service: ChatService = serviceOver(connections, messenger, {
    presence,
    fanOut,
    presenceWindowMs: WINDOW_MS,
    now: clock,
    ...(options.bigRoomSize !== undefined ? { bigRoomSize: options.bigRoomSize } : {}),
  });
  return {
    service,
    messenger,
    presence,
    fanOut,
    /** Moves the clock on and runs the worker's jobs that are due by then. */
    async advance(ms: number): Promise<void> {
      now += ms;
      await fanOut.runDue();
    },
    presenceFramesTo(id: string): ServerFrame[] {
      return messenger.framesTo(id).filter((f) => f.type === 'presence' || f.type === 'presence_batch');
    },
  };
}

describe('ChatService presence, coalesced per window', () => {
  it('announces the first change of a quiet room at once, on its own', async () => {
    const chat = windowedChat();
    await chat.service.connect('A', { room: 'hall' });

    expect(chat.presenceFramesTo('A').map(summary)).toEqual(['presence join hall A']);
  });

  it('announces the rest of the window in one frame when the window ends, even if nothing else happens', async () => {
    const chat = windowedChat();
    await chat.service.connect('A', { room: 'hall' });
    await chat.advance(1);
    await chat.service.connect('B', { room: 'hall' });
    await chat.advance(1);
    await chat.service.connect('C', { room: 'hall' });
    await chat.advance(1);
    await chat.service.rename('B', 'Bea');
    const beforeWindowEnds = chat.presenceFramesTo('A').length;

    await chat.advance(WINDOW_MS);

    expect({ beforeWindowEnds, toA: chat.presenceFramesTo('A').map(summary) }).toEqual({
      beforeWindowEnds: 1,
      toA: ['presence join hall A', 'presence_batch hall join B, join C, rename B'],
    });
  });

  it('costs one delivery per member and window in a join storm, not one per member and join', async () => {
    const chat = windowedChat({ bigRoomSize: 1000 });
    const ids = Array.from({ length: 200 }, (_, i) => `m${String(i).padStart(3, '0')}`);
    // 200 joins over two seconds: 100 a second, as in the storm the issue measured.
    for (const [i, id] of ids.entries()) {
      await chat.service.connect(id, { room: 'hall' });
      if (i % 10 === 9) await chat.advance(100);
    }
    await chat.advance(WINDOW_MS);

    const presenceSends = chat.messenger.sent.filter((s) => s.frame.type.startsWith('presence')).length;
    const seenByFirst = chat
      .presenceFramesTo('m000')
      .flatMap((f) =>
        f.type === 'presence_batch'
          ? f.changes.map((c) => c.connectionId)
          : f.type === 'presence'
            ? [f.connectionId]
            : [],
      );

    expect({ atMostThreeWindowsOfEveryone: presenceSends <= 3 * ids.length, seenByFirst }).toEqual({
      atMostThreeWindowsOfEveryone: true,
      seenByFirst: ids,
    });
  });

  it('tells a member who stays every change exactly once and in order, across windows', async () => {
    const chat = windowedChat();
    await chat.service.connect('stay', { room: 'hall' });
    await chat.advance(WINDOW_MS);
    const expected: string[] = [];
    for (let i = 0; i < 12; i += 1) {
      await chat.service.connect(`g${i}`, { room: 'hall' });
      expected.push(`join g${i}`);
      if (i % 3 === 2) {
        await chat.advance(1);
        await chat.service.disconnect(`g${i - 1}`);
        expected.push(`leave g${i - 1}`);
      }
      await chat.advance(250);
    }
    await chat.advance(WINDOW_MS);

    const seen = chat
      .presenceFramesTo('stay')
      .flatMap((f) =>
        f.type === 'presence_batch'
          ? f.changes.map((c) => `${c.event} ${c.connectionId}`)
          : f.type === 'presence'
            ? [`${f.event} ${f.connectionId}`]
            : [],
      )
      .filter((line) => line !== 'join stay');

    expect(seen).toEqual(expected);
  });

  it('sends at most one presence frame per room and window', async () => {
    const chat = windowedChat();
    await chat.service.connect('A', { room: 'hall' });
    for (let i = 0; i < 40; i += 1) {
      await chat.service.rename('A', `Ann ${i}`);
      await chat.advance(100);
    }
    await chat.advance(WINDOW_MS);

    // 40 renames over 4 s: the first at once, then one frame per window.
    expect(chat.presenceFramesTo('A').length).toBeLessThanOrEqual(1 + Math.ceil(4000 / WINDOW_MS) + 1);
  });

  it("counts a big room's changes and lists only the first few, with its member count", async () => {
    const chat = windowedChat({ bigRoomSize: 5 });
    for (let i = 0; i < 10; i += 1) await chat.service.connect(`m${i}`, { room: 'hall' });
    await chat.service.disconnect('m9');

    await chat.advance(WINDOW_MS);

    const batch = chat.presenceFramesTo('m0').at(-1);
    expect(batch).toEqual({
      type: 'presence_batch',
      room: 'hall',
      members: 9,
      joined: 9,
      left: 1,
      renamed: 0,
      changes: expect.any(Array),
      complete: false,
    });
    expect(batch?.type === 'presence_batch' ? batch.changes.length : 0).toBe(BIG_ROOM_LISTED_CHANGES);
  });

  it('lets a repeated scheduled flush do nothing, and puts back one that came early', async () => {
    const chat = windowedChat();
    await chat.service.connect('A', { room: 'hall' });
    await chat.service.connect('B', { room: 'hall' });
    const [scheduled] = chat.fanOut.queue.pending();
    if (scheduled?.job.kind !== 'presence') throw new Error('no trailing flush was scheduled');

    const { job } = scheduled;
    const early = await chat.service.flushPresence(job);
    const putBack = chat.fanOut.queue.pending().length;
    await chat.advance(WINDOW_MS);
    const sendsAfterFlush = chat.messenger.sent.length;
    const repeated = await chat.service.flushPresence(job);

    expect({ early, putBack, repeated, sentByRepeat: chat.messenger.sent.length - sendsAfterFlush }).toEqual({
      early: undefined,
      putBack: 2,
      repeated: undefined,
      sentByRepeat: 0,
    });
  });

  it('replaces a trailing flush that was never queued once it is long overdue, so no change is stranded', async () => {
    const chat = windowedChat();
    await chat.service.connect('A', { room: 'hall' });
    const enqueue = chat.fanOut.enqueue.bind(chat.fanOut);
    chat.fanOut.enqueue = () => Promise.reject(new Error('queue unavailable'));
    await expect(chat.service.rename('A', 'Lost')).rejects.toThrow('queue unavailable');
    chat.fanOut.enqueue = enqueue;

    await chat.advance(LOST_FLUSH_MS + 2 * WINDOW_MS);
    await chat.service.rename('A', 'Found');
    await chat.advance(WINDOW_MS);

    const renames = chat
      .presenceFramesTo('A')
      .flatMap((f) => (f.type === 'presence_batch' ? f.changes : f.type === 'presence' ? [f] : []))
      .filter((c) => c.event === 'rename')
      .map((c) => c.name);
    expect(renames).toEqual(['Lost', 'Found']);
  });

  it('welcomes a joiner with the member count of its room', async () => {
    const chat = windowedChat();
    await chat.service.connect('A', { room: 'hall' });
    await chat.service.connect('B', { room: 'hall' });

    await chat.service.hello('B');

    expect(chat.messenger.framesTo('B').find((f) => f.type === 'welcome')).toMatchObject({ members: 2 });
  });
});

describe('ChatService presence, when a flush fails part-way', () => {
  /** A joins a quiet room (announced at once), then B within A's window: the room's trailing flush job. */
  async function trailingFlushOf(chat: ReturnType<typeof windowedChat>): Promise<PresenceJob> {
    await chat.service.connect('A', { room: 'hall' });
    await chat.service.connect('B', { room: 'hall' });
    const [scheduled] = chat.fanOut.queue.pending();
    if (scheduled?.job.kind !== 'presence') throw new Error('no trailing flush was scheduled');
    return scheduled.job;
  }

  it('sends the changes of a trailing flush whose job failed after starting when the queue delivers it again', async () => {
    const chat = windowedChat();
    const job = await trailingFlushOf(chat);
    const pending = chat.presence.pending.bind(chat.presence);
    chat.presence.pending = () => Promise.reject(new Error('throttled'));
    await expect(chat.advance(WINDOW_MS)).rejects.toThrow('throttled');
    chat.presence.pending = pending;

    await chat.service.flushPresence(job);

    expect(chat.presenceFramesTo('A').map(summary)).toEqual(['presence join hall A', 'presence join hall B']);
  });

  it('sends the changes of a trailing flush whose start was written, its answer lost and the write replayed', async () => {
    const chat = windowedChat();
    await trailingFlushOf(chat);
    const start = chat.presence.startScheduledFlush.bind(chat.presence);
    // The SDK sends the write again; the service sees only the answer to the replay.
    chat.presence.startScheduledFlush = async (...args) => {
      await start(...args);
      return start(...args);
    };

    await chat.advance(WINDOW_MS);

    expect(chat.presenceFramesTo('A').map(summary)).toEqual(['presence join hall A', 'presence join hall B']);
  });

  it('sends a change whose flush could not be queued when the room is next read, though nothing else changes there', async () => {
    const chat = windowedChat();
    await chat.service.connect('A', { room: 'hall' });
    await chat.advance(2 * WINDOW_MS);
    const enqueue = chat.fanOut.enqueue.bind(chat.fanOut);
    chat.fanOut.enqueue = () => Promise.reject(new Error('queue unavailable'));
    await expect(chat.service.rename('A', 'Lost')).rejects.toThrow('queue unavailable');
    chat.fanOut.enqueue = enqueue;

    await chat.advance(LOST_FLUSH_MS + WINDOW_MS);
    await chat.service.who('A');
    await chat.advance(WINDOW_MS);

    expect(chat.presenceFramesTo('A').map(summary)).toEqual(['presence join hall A', 'presence rename hall A']);
  });
});
