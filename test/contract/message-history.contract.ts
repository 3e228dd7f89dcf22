import { describe, expect, it } from '@jest/globals';
import type { ChatMessage } from '../../src/domain/frames.ts';
import { HISTORY_LENGTH, type MessageHistory, type NewMessage } from '../../src/domain/message-history.ts';

function message(room: string, n: number): NewMessage {
  return {
    type: 'message',
    id: `${room}-${n}`,
    room,
    from: 'conn-a',
    name: 'Alice',
    text: `message ${n}`,
    sentAt: new Date(2026, 0, 1, 0, 0, n).toISOString(),
  };
}

async function appendAll(history: MessageHistory, room: string, count: number): Promise<ChatMessage[]> {
  const stored: ChatMessage[] = [];
  for (let n = 1; n <= count; n += 1) stored.push(await history.append(message(room, n)));
  return stored;
}

/** A history over an empty store whose clock reads `now`, and what its store's expiry would delete by then. */
export interface HistoryUnderTest {
  readonly history: MessageHistory;
  /** Removes everything the store lets expire by `at` (the table's TTL; nothing in memory). */
  expireDue(at: Date): Promise<void>;
}

const DAY = 86_400_000;

/** What every MessageHistory adapter must do; run once per adapter. */
export function messageHistoryContract(
  adapter: string,
  create: (options?: { now?: () => Date }) => Promise<HistoryUnderTest>,
): void {
  describe(`MessageHistory contract: ${adapter}`, () => {
    it('returns the message it stored, numbered', async () => {
      const { history } = await create();
      expect(await history.append(message('red', 1))).toEqual({ ...message('red', 1), seq: 1 });
    });

    it("numbers a room's messages 1, 2, 3 in the order they were appended", async () => {
      const { history } = await create();
      const stored = await appendAll(history, 'red', 3);
      expect(stored.map((m) => m.seq)).toEqual([1, 2, 3]);
    });

    it('numbers each room on its own', async () => {
      const { history } = await create();
      await appendAll(history, 'red', 2);
      expect((await history.append(message('blue', 1))).seq).toBe(1);
    });

    it('returns the kept messages oldest first, exactly as appended', async () => {
      const { history } = await create();
      const stored = await appendAll(history, 'red', 3);
      expect(await history.recent('red')).toEqual(stored);
    });

    it('returns nothing for a room with no messages', async () => {
      const { history } = await create();
      await appendAll(history, 'red', 1);
      expect(await history.recent('blue')).toEqual([]);
    });

    it(`keeps only the newest ${HISTORY_LENGTH} messages of a room`, async () => {
      const { history } = await create();
      const stored = await appendAll(history, 'red', HISTORY_LENGTH + 7);
      expect(await history.recent('red')).toEqual(stored.slice(7));
    }, 60_000);

    it('keeps numbering past the messages it dropped', async () => {
      const { history } = await create();
      await appendAll(history, 'red', HISTORY_LENGTH + 3);
      expect((await history.append(message('red', 99))).seq).toBe(HISTORY_LENGTH + 4);
    }, 60_000);

    it('returns the messages as they were, whatever is appended after', async () => {
      const { history } = await create();
      await appendAll(history, 'red', 2);
      const before = await history.recent('red');

      await history.append(message('red', 3));

      expect(before.map((m) => m.seq)).toEqual([1, 2]);
    });

    it('returns only the messages after a given id', async () => {
      const { history } = await create();
      const stored = await appendAll(history, 'red', 5);
      expect(await history.recent('red', { id: 'red-3' })).toEqual(stored.slice(3));
    });

    it('returns nothing after the newest message', async () => {
      const { history } = await create();
      await appendAll(history, 'red', 3);
      expect(await history.recent('red', { id: 'red-3' })).toEqual([]);
    });

    it('returns everything kept after an id it no longer keeps, so nothing kept is missed', async () => {
      const { history } = await create();
      const stored = await appendAll(history, 'red', HISTORY_LENGTH + 2);
      expect(await history.recent('red', { id: 'red-1' })).toEqual(stored.slice(2));
    }, 60_000);

    it('returns only the messages numbered above a given seq, whatever order the client received them in', async () => {
      const { history } = await create();
      const stored = await appendAll(history, 'red', 5);
      // The client has 1 and 2, and 4 arrived before 3: it has everything up to 2, so it asks after 2.
      expect(await history.recent('red', { seq: stored[1]?.seq ?? 0 })).toEqual(stored.slice(2));
    });

    it('returns everything kept after a seq it no longer keeps', async () => {
      const { history } = await create();
      const stored = await appendAll(history, 'red', 3);
      expect(await history.recent('red', { seq: 0 })).toEqual(stored);
    });

    it('returns the message stored first, as it was stored, for a later append with the same sender and clientMsgId, and stores nothing', async () => {
      const { history } = await create();
      const sent = await history.append(message('red', 1), { sender: 'user:ann', clientMsgId: 'c-1' });

      const resent = await history.append(
        { ...message('red', 2), from: 'conn-z' },
        { sender: 'user:ann', clientMsgId: 'c-1' },
      );

      expect({ resent, kept: await history.recent('red') }).toEqual({ resent: sent, kept: [sent] });
    });

    it('stores a message again for another sender or another clientMsgId', async () => {
      const { history } = await create();
      await history.append(message('red', 1), { sender: 'user:ann', clientMsgId: 'c-1' });

      await history.append(message('red', 2), { sender: 'user:bob', clientMsgId: 'c-1' });
      await history.append(message('red', 3), { sender: 'user:ann', clientMsgId: 'c-2' });

      expect((await history.recent('red')).map((m) => m.id)).toEqual(['red-1', 'red-2', 'red-3']);
    });

    it('takes a clientMsgId sent again from another room for the message sent first, in its own room', async () => {
      const { history } = await create();
      const sent = await history.append(message('red', 1), { sender: 'user:ann', clientMsgId: 'c-1' });

      const resent = await history.append(message('blue', 2), { sender: 'user:ann', clientMsgId: 'c-1' });

      expect({ resent, blue: await history.recent('blue') }).toEqual({ resent: sent, blue: [] });
    });

    it('stores every message appended without a clientMsgId, however alike', async () => {
      const { history } = await create();
      await history.append(message('red', 1));
      await history.append(message('red', 1));
      expect((await history.recent('red')).map((m) => m.seq)).toEqual([1, 2]);
    });

    it('numbers concurrent appends uniquely', async () => {
      const { history } = await create();
      const stored = await Promise.all(Array.from({ length: 20 }, (_, i) => history.append(message('busy', i + 1))));
      expect(new Set(stored.map((m) => m.seq)).size).toBe(20);
      expect((await history.recent('busy')).map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it("never numbers a room's messages from 1 again, however long the room was idle", async () => {
      // A page kept open holds its afterSeq for as long as it likes: a restarted count would hide new messages below it.
      let now = new Date('2030-01-01T00:00:00.000Z');
      const { history, expireDue } = await create({ now: () => now });
      await appendAll(history, 'quiet', 3);
      now = new Date(now.getTime() + 400 * DAY);
      await expireDue(now);

      const next = await history.append(message('quiet', 4));

      expect({ seq: next.seq, replayed: (await history.recent('quiet', { seq: 3 })).map((m) => m.seq) }).toEqual({
        seq: 4,
        replayed: [4],
      });
    });

    it('stores one message for concurrent appends with the same sender and clientMsgId, and returns it to each', async () => {
      const { history } = await create();
      const racing = Array.from({ length: 5 }, (_, i) => ({ ...message('red', 1), id: `copy-${i}` }));

      const stored = await Promise.all(
        racing.map((copy) => history.append(copy, { sender: 'user:ann', clientMsgId: 'c-1' })),
      );

      const kept = await history.recent('red');
      expect({ kept: kept.length, returned: stored.filter((m) => m.id === kept[0]?.id).length }).toEqual({
        kept: 1,
        returned: 5,
      });
    });
  });
}
