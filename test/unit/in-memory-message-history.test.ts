import { describe, expect, it } from '@jest/globals';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import type { ChatMessage } from '../../src/domain/frames.ts';
import { HISTORY_LENGTH, type NewMessage } from '../../src/domain/message-history.ts';

function message(room: string, n: number): NewMessage {
  return {
    type: 'message',
    id: `${room}-${n}`,
    room,
    from: 'A',
    name: 'Ann',
    text: `message ${n}`,
    sentAt: '2030-01-01T00:00:00.000Z',
  };
}

async function appended(history: InMemoryMessageHistory, room: string, count: number): Promise<ChatMessage[]> {
  const numbered: ChatMessage[] = [];
  for (let n = 1; n <= count; n += 1) numbered.push(await history.append(message(room, n)));
  return numbered;
}

describe('InMemoryMessageHistory', () => {
  it('returns the message it stored, numbered', async () => {
    const history = new InMemoryMessageHistory();

    expect(await history.append(message('red', 1))).toEqual({ ...message('red', 1), seq: 1 });
  });

  it('numbers a room\'s messages 1, 2, 3 in the order they were appended', async () => {
    const history = new InMemoryMessageHistory();

    const numbered = await appended(history, 'red', 3);

    expect(numbered.map((m) => m.seq)).toEqual([1, 2, 3]);
  });

  it('numbers each room on its own', async () => {
    const history = new InMemoryMessageHistory();
    await appended(history, 'red', 2);

    expect((await history.append(message('blue', 1))).seq).toBe(1);
  });

  it('returns a room\'s messages oldest first', async () => {
    const history = new InMemoryMessageHistory();
    const numbered = await appended(history, 'red', 3);

    expect(await history.recent('red')).toEqual(numbered);
  });

  it('returns no other room\'s messages', async () => {
    const history = new InMemoryMessageHistory();
    await appended(history, 'red', 2);

    expect(await history.recent('blue')).toEqual([]);
  });

  it(`keeps only the newest ${HISTORY_LENGTH} messages of a room`, async () => {
    const history = new InMemoryMessageHistory();
    const numbered = await appended(history, 'red', HISTORY_LENGTH + 3);

    expect(await history.recent('red')).toEqual(numbered.slice(3));
  });

  it('keeps numbering past the messages it dropped', async () => {
    const history = new InMemoryMessageHistory();
    await appended(history, 'red', HISTORY_LENGTH + 3);

    expect((await history.append(message('red', 99))).seq).toBe(HISTORY_LENGTH + 4);
  });

  it('returns only the messages after the id it is given', async () => {
    const history = new InMemoryMessageHistory();
    const numbered = await appended(history, 'red', 5);

    expect(await history.recent('red', { id: 'red-3' })).toEqual(numbered.slice(3));
  });

  it('returns nothing after the newest message', async () => {
    const history = new InMemoryMessageHistory();
    await appended(history, 'red', 3);

    expect(await history.recent('red', { id: 'red-3' })).toEqual([]);
  });

  it('returns everything kept after an id it no longer keeps', async () => {
    const history = new InMemoryMessageHistory();
    const numbered = await appended(history, 'red', HISTORY_LENGTH + 2);

    expect(await history.recent('red', { id: 'red-1' })).toEqual(numbered.slice(2));
  });

  it('returns a copy that later appends do not change', async () => {
    const history = new InMemoryMessageHistory();
    await appended(history, 'red', 2);
    const before = await history.recent('red');

    await history.append(message('red', 3));

    expect(before).toHaveLength(2);
  });
});
