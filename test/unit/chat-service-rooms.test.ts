import { describe, expect, it } from '@jest/globals';
import { ROSTER_PAGE_SIZE } from '../../src/domain/chat-service.ts';
import { UnknownConnectionError } from '../../src/domain/errors.ts';
import type { ServerFrame } from '../../src/domain/frames.ts';
import { summary } from '../support/frame-summary.ts';
import { type Chat, chatWith, liveRow, T0 } from '../support/service-fixtures.ts';

const AT = T0.toISOString();

async function roomOf(chat: Chat, connectionId: string): Promise<string | undefined> {
  return (await chat.connections.get(connectionId))?.room;
}

function recipientsOf(chat: Chat, type: ServerFrame['type']): string[] {
  return chat.messenger.sent
    .filter((s) => s.frame.type === type)
    .map((s) => s.connectionId)
    .sort();
}

describe('ChatService rooms', () => {
  describe('post', () => {
    it("reaches only the members of the sender's room", async () => {
      const chat = await chatWith({ kitchen: ['A', 'B'], garden: ['C', 'D'], lobby: ['E'] });

      await chat.service.post('A', 'dinner is ready');

      expect(recipientsOf(chat, 'message')).toEqual(['A', 'B']);
    });

    it('keeps two rooms from hearing each other', async () => {
      const chat = await chatWith({ kitchen: ['A', 'B'], garden: ['C', 'D'] });

      await chat.service.post('A', 'in the kitchen');
      await chat.service.post('C', 'in the garden');

      const heard = (id: string) => chat.messenger.framesTo(id).map(summary);
      expect({ B: heard('B'), D: heard('D') }).toEqual({
        B: ['message in the kitchen'],
        D: ['message in the garden'],
      });
    });

    it("carries the sender's name as it was when the message was sent", async () => {
      const chat = await chatWith({ lobby: ['A', 'B'] });

      await chat.service.post('A', 'before');
      await chat.service.rename('A', 'Ann');
      await chat.service.post('A', 'after');

      expect((await chat.history.recent('lobby')).map((m) => [m.text, m.name])).toEqual([
        ['before', 'Name A'],
        ['after', 'Ann'],
      ]);
    });
  });

  describe('hello', () => {
    it('welcomes the caller with its connection id, room and name', async () => {
      const chat = await chatWith({ kitchen: ['A'] }, 1000, false);

      await chat.service.hello('A');

      expect(chat.messenger.framesTo('A')[0]).toEqual({
        type: 'welcome',
        connectionId: 'A',
        room: 'kitchen',
        name: 'Name A',
        replay: 0,
        rev: 1,
        // Its join is counted with the change that announces it, before the welcome.
        members: 1,
      });
    });

    it("tells every member of the caller's room, the caller included, that it joined", async () => {
      const chat = await chatWith({ kitchen: ['A', 'B', 'C'] }, 1000, false);

      await chat.service.hello('A');

      const join = {
        type: 'presence',
        event: 'join',
        room: 'kitchen',
        connectionId: 'A',
        name: 'Name A',
        rev: 1,
        at: AT,
        members: 1,
      };
      expect(chat.messenger.sent.filter((s) => s.frame.type === 'presence')).toEqual([
        { connectionId: 'A', frame: join },
        { connectionId: 'B', frame: join },
        { connectionId: 'C', frame: join },
      ]);
    });

    it('tells no other room that the caller joined', async () => {
      const chat = await chatWith({ kitchen: ['A'], garden: ['G'] }, 1000, false);

      await chat.service.hello('A');

      expect(chat.messenger.framesTo('G')).toEqual([]);
    });

    it('sends the caller its welcome before its own join presence', async () => {
      const chat = await chatWith({ kitchen: ['A'] }, 1000, false);

      await chat.service.hello('A');

      expect(chat.messenger.framesTo('A').map(summary)).toEqual([
        'welcome kitchen replay=0',
        'presence join kitchen A',
      ]);
    });

    it('returns whether the welcome was delivered', async () => {
      const chat = await chatWith({ kitchen: ['A', 'B'] }, 1000, false);
      const ofA = await chat.service.hello('A');
      chat.messenger.on('B', 'gone');
      const ofB = await chat.service.hello('B');

      expect([ofA, ofB]).toEqual(['delivered', 'gone']);
    });

    it('rejects with UnknownConnectionError and sends nothing when the caller is not stored', async () => {
      const chat = await chatWith({ lobby: ['A'] }, 1000, false);

      await expect(chat.service.hello('ghost')).rejects.toBeInstanceOf(UnknownConnectionError);
      expect(chat.messenger.sent).toEqual([]);
    });
  });

  describe('join', () => {
    it('moves the caller to the room it names', async () => {
      const chat = await chatWith({ lobby: ['A'] });

      await chat.service.join('A', 'kitchen');

      expect(await roomOf(chat, 'A')).toBe('kitchen');
    });

    it('tells the members left in the old room that the caller left', async () => {
      const chat = await chatWith({ lobby: ['A', 'B'], kitchen: ['K'] });

      await chat.service.join('A', 'kitchen');

      expect(chat.messenger.framesTo('B')).toEqual([
        {
          type: 'presence',
          event: 'leave',
          room: 'lobby',
          connectionId: 'A',
          name: 'Name A',
          rev: 1,
          at: AT,
          members: 1,
        },
      ]);
    });

    it('tells every member of the new room, the caller included, that it joined', async () => {
      const chat = await chatWith({ lobby: ['A', 'B'], kitchen: ['K'] });

      await chat.service.join('A', 'kitchen');

      expect(
        chat.messenger.sent.filter((s) => s.frame.type === 'presence').map((s) => [s.connectionId, summary(s.frame)]),
      ).toEqual([
        ['B', 'presence leave lobby A'],
        ['A', 'presence join kitchen A'],
        ['K', 'presence join kitchen A'],
      ]);
    });

    it("tells the new room before it welcomes the caller, then sends that room's history", async () => {
      const chat = await chatWith({ lobby: ['A'], kitchen: ['K'] });
      await chat.service.post('K', 'soup');
      await chat.service.post('K', 'bread');
      chat.messenger.sent.length = 0;

      await chat.service.join('A', 'kitchen');

      expect(chat.messenger.framesTo('A').map(summary)).toEqual([
        'presence join kitchen A',
        'welcome kitchen replay=2',
        'message soup',
        'message bread',
      ]);
    });

    it("replays only the new room's messages after the id the caller names", async () => {
      const chat = await chatWith({ lobby: ['A'], kitchen: ['K'] });
      for (const text of ['soup', 'bread', 'cheese']) await chat.service.post('K', text);
      chat.messenger.sent.length = 0;

      await chat.service.join('A', 'kitchen', { id: 'msg-1' });

      expect(
        chat.messenger
          .framesTo('A')
          .filter((f) => f.type !== 'presence')
          .map(summary),
      ).toEqual(['welcome kitchen replay=2', 'message bread', 'message cheese']);
    });

    it('lets the caller hear the new room and no longer the old one', async () => {
      const chat = await chatWith({ lobby: ['A', 'B'], kitchen: ['K'] });
      await chat.service.join('A', 'kitchen');
      chat.messenger.sent.length = 0;

      await chat.service.post('B', 'lobby talk');
      await chat.service.post('K', 'kitchen talk');

      expect(chat.messenger.framesTo('A').map(summary)).toEqual(['message kitchen talk']);
    });

    it('tells the new room that a caller found gone during its welcome left, once', async () => {
      const chat = await chatWith({ kitchen: ['A'], garden: ['B'] });
      chat.messenger.on('A', 'gone');

      await chat.service.join('A', 'garden');
      await chat.service.disconnect('A');

      // Found gone during its welcome, it is retired and its leave announced with no wait for its $disconnect.
      // The leave's flush ran before the join's was done, so B hears the join again (members drop it by rev).
      expect(chat.messenger.framesTo('B').map(summary)).toEqual([
        'presence join garden A',
        'presence_batch garden join A, leave A',
      ]);
    });

    it('sends no presence when the caller joins the room it is already in', async () => {
      const chat = await chatWith({ kitchen: ['A', 'B'] });

      await chat.service.join('A', 'kitchen');

      expect(recipientsOf(chat, 'presence')).toEqual([]);
    });

    it('still welcomes a caller that joins the room it is already in', async () => {
      const chat = await chatWith({ kitchen: ['A', 'B'] });

      const report = await chat.service.join('A', 'kitchen');

      expect({ report, toA: chat.messenger.framesTo('A').map(summary) }).toEqual({
        report: 'delivered',
        toA: ['welcome kitchen replay=0'],
      });
    });

    it('counts the caller out of the old room and into the new one', async () => {
      const chat = await chatWith({ lobby: ['A', 'B', 'C'], kitchen: ['K'] });

      await chat.service.join('A', 'kitchen');

      expect([(await chat.presence.clock('lobby')).members, (await chat.presence.clock('kitchen')).members]).toEqual([
        2, 2,
      ]);
    });

    it('rejects with UnknownConnectionError, stores nothing and sends nothing when the caller is not stored', async () => {
      const chat = await chatWith({ kitchen: ['K'] });

      await expect(chat.service.join('ghost', 'kitchen')).rejects.toBeInstanceOf(UnknownConnectionError);
      expect({ stored: await chat.connections.get('ghost'), sent: chat.messenger.sent }).toEqual({
        stored: undefined,
        sent: [],
      });
    });
  });

  describe('repeated and racing changes', () => {
    it('announces a member once however often it says hello, and replays only what it asks for', async () => {
      const chat = await chatWith({ kitchen: ['A', 'B'] }, 1000, false);
      await chat.service.post('B', 'one');
      await chat.service.post('B', 'two');
      chat.messenger.sent.length = 0;

      await chat.service.hello('A');
      await chat.service.hello('A', { seq: 2 });
      await chat.service.hello('A', { seq: 1 });

      expect({
        toA: chat.messenger.framesTo('A').map(summary),
        toB: chat.messenger.framesTo('B').map(summary),
      }).toEqual({
        toA: [
          'welcome kitchen replay=2',
          'message one',
          'message two',
          'presence join kitchen A',
          'welcome kitchen replay=0',
          'welcome kitchen replay=1',
          'message two',
        ],
        toB: ['presence join kitchen A'],
      });
    });

    it('announces a double-clicked join once: one leave, one join', async () => {
      const chat = await chatWith({ lobby: ['A', 'B'], kitchen: ['K'] });

      await Promise.all([chat.service.join('A', 'kitchen'), chat.service.join('A', 'kitchen')]);

      expect(
        chat.messenger.sent.filter((s) => s.frame.type === 'presence').map((s) => [s.connectionId, summary(s.frame)]),
      ).toEqual([
        ['B', 'presence leave lobby A'],
        ['A', 'presence join kitchen A'],
        ['K', 'presence join kitchen A'],
      ]);
    });

    it('announces two identical renames at once as one rename', async () => {
      const chat = await chatWith({ kitchen: ['A', 'B'] });

      await Promise.all([chat.service.rename('A', 'Ann'), chat.service.rename('A', 'Ann')]);

      expect(chat.messenger.framesTo('B').map(summary)).toEqual(['presence rename kitchen A']);
    });

    it('gives each change of a member a higher rev, its removal the highest, so clients keep the latest', async () => {
      const chat = await chatWith({ lobby: ['A'], red: ['R'], blue: ['U'] });

      await Promise.all([chat.service.join('A', 'red'), chat.service.join('A', 'blue')]);
      await chat.service.disconnect('A');

      // Changes recorded together (the two joins raced) may come in one batch frame.
      const aboutA = chat.messenger.sent.flatMap(({ frame: f }): string[] => {
        if (f.type === 'presence_batch') return f.changes.map((c) => `${c.event} ${f.room} rev=${c.rev}`);
        if (f.type === 'presence') return [`${f.event} ${f.room} rev=${f.rev}`];
        return f.type === 'welcome' ? [`welcome ${f.room} rev=${f.rev}`] : [];
      });
      const finalWelcome = chat.messenger
        .framesTo('A')
        .filter((f) => f.type === 'welcome')
        .sort((x, y) => (x.type === 'welcome' && y.type === 'welcome' ? y.rev - x.rev : 0))[0];
      expect({
        aboutA: [...new Set(aboutA)].sort(),
        finalRoom: finalWelcome?.type === 'welcome' ? finalWelcome.room : undefined,
      }).toEqual({
        aboutA: [
          'join blue rev=2',
          'join red rev=1',
          'leave blue rev=3',
          'leave red rev=2',
          'welcome blue rev=2',
          'welcome red rev=1',
        ],
        finalRoom: 'blue',
      });
    });
  });

  describe('leave', () => {
    it('returns the caller to the lobby', async () => {
      const chat = await chatWith({ kitchen: ['A'] });

      await chat.service.leave('A');

      expect(await roomOf(chat, 'A')).toBe('lobby');
    });

    it('tells the old room the caller left and the lobby that it joined', async () => {
      const chat = await chatWith({ kitchen: ['A', 'K'], lobby: ['L'] });

      await chat.service.leave('A');

      expect(
        chat.messenger.sent.filter((s) => s.frame.type === 'presence').map((s) => [s.connectionId, summary(s.frame)]),
      ).toEqual([
        ['K', 'presence leave kitchen A'],
        ['A', 'presence join lobby A'],
        ['L', 'presence join lobby A'],
      ]);
    });

    it('rejects with UnknownConnectionError when the caller is not stored', async () => {
      const chat = await chatWith({ kitchen: ['K'] });

      await expect(chat.service.leave('ghost')).rejects.toBeInstanceOf(UnknownConnectionError);
    });
  });

  describe('rename', () => {
    it('stores the new name', async () => {
      const chat = await chatWith({ kitchen: ['A'] });

      await chat.service.rename('A', 'Ann');

      expect((await chat.connections.get('A'))?.name).toBe('Ann');
    });

    it("tells every member of the caller's room, the caller included, the new and the previous name", async () => {
      const chat = await chatWith({ kitchen: ['A', 'B'] });

      await chat.service.rename('A', 'Ann');

      const rename = {
        type: 'presence',
        event: 'rename',
        room: 'kitchen',
        connectionId: 'A',
        name: 'Ann',
        previousName: 'Name A',
        rev: 1,
        at: AT,
        members: 2,
      };
      expect(chat.messenger.sent).toEqual([
        { connectionId: 'A', frame: rename },
        { connectionId: 'B', frame: rename },
      ]);
    });

    it('tells no other room', async () => {
      const chat = await chatWith({ kitchen: ['A'], garden: ['G'] });

      await chat.service.rename('A', 'Ann');

      expect(chat.messenger.framesTo('G')).toEqual([]);
    });

    it('keeps the caller in its room', async () => {
      const chat = await chatWith({ kitchen: ['A'] });

      await chat.service.rename('A', 'Ann');

      expect(await roomOf(chat, 'A')).toBe('kitchen');
    });

    it('sends nothing when the name does not change', async () => {
      const chat = await chatWith({ kitchen: ['A', 'B'] });

      const report = await chat.service.rename('A', 'Name A');

      expect({ report, sent: chat.messenger.sent }).toEqual({ report: undefined, sent: [] });
    });

    it('rejects with UnknownConnectionError and stores nothing when the caller is not stored', async () => {
      const chat = await chatWith({ kitchen: ['A'] });

      await expect(chat.service.rename('ghost', 'Ann')).rejects.toBeInstanceOf(UnknownConnectionError);
      expect(await chat.connections.get('ghost')).toBeUndefined();
    });
  });

  describe('who', () => {
    it("sends the caller the roster of its room with every member's id and name", async () => {
      const chat = await chatWith({ kitchen: ['A', 'B', 'C'] });
      await chat.service.rename('B', 'Bea');
      chat.messenger.sent.length = 0;

      await chat.service.who('A');

      expect(chat.messenger.sent).toEqual([
        {
          connectionId: 'A',
          frame: {
            type: 'roster',
            room: 'kitchen',
            members: [
              { connectionId: 'A', name: 'Name A', rev: 0 },
              { connectionId: 'B', name: 'Bea', rev: 1 },
              { connectionId: 'C', name: 'Name C', rev: 0 },
            ],
            count: 3,
          },
        },
      ]);
    });

    it('names the verified user behind each member that has one', async () => {
      const chat = await chatWith({ kitchen: ['A'] });
      await chat.connections.save({ ...liveRow('B', 'kitchen'), userId: 'user-b' });

      await chat.service.who('A');

      const [roster] = chat.messenger.framesTo('A');
      expect(roster?.type === 'roster' ? roster.members : roster).toEqual([
        { connectionId: 'A', name: 'Name A', rev: 0 },
        { connectionId: 'B', name: 'Name B', userId: 'user-b', rev: 0 },
      ]);
    });

    it("lists only the members of the caller's room", async () => {
      const chat = await chatWith({ kitchen: ['A', 'B'], garden: ['C'], lobby: ['D'] });

      await chat.service.who('A');

      const [roster] = chat.messenger.framesTo('A');
      expect(roster?.type === 'roster' ? roster.members.map((m) => m.connectionId) : roster).toEqual(['A', 'B']);
    });

    it("lists every member across the repository's pages", async () => {
      const ids = Array.from({ length: 23 }, (_, i) => `conn-${String(i).padStart(2, '0')}`);
      const chat = await chatWith({ kitchen: ids }, 4);

      await chat.service.who('conn-00');

      const [roster] = chat.messenger.framesTo('conn-00');
      expect(roster?.type === 'roster' ? roster.members.map((m) => m.connectionId) : roster).toEqual(ids);
    });

    it(`pages through a room of more than ${ROSTER_PAGE_SIZE} members, naming each once, with the count`, async () => {
      const ids = Array.from({ length: ROSTER_PAGE_SIZE * 2 + 5 }, (_, i) => `conn-${String(i).padStart(4, '0')}`);
      const chat = await chatWith({ kitchen: ids }, 7);

      const named: string[] = [];
      const sizes: number[] = [];
      let cursor: string | undefined;
      do {
        await chat.service.who('conn-0000', cursor);
        const roster = chat.messenger.framesTo('conn-0000').at(-1);
        if (roster?.type !== 'roster') throw new Error(`expected a roster, got ${JSON.stringify(roster)}`);
        expect(roster.count).toBe(ids.length);
        named.push(...roster.members.map((m) => m.connectionId));
        sizes.push(roster.members.length);
        cursor = roster.next;
      } while (cursor !== undefined);

      expect(sizes).toEqual([ROSTER_PAGE_SIZE, ROSTER_PAGE_SIZE, 5]);
      expect(named).toEqual(ids);
    });

    it('rejects with UnknownConnectionError and sends nothing when the caller is not stored', async () => {
      const chat = await chatWith({ kitchen: ['A'] });

      await expect(chat.service.who('ghost')).rejects.toBeInstanceOf(UnknownConnectionError);
      expect(chat.messenger.sent).toEqual([]);
    });
  });
});
