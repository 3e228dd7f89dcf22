import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import { DeliveryError, UnknownConnectionError } from '../../src/domain/errors.ts';
import type { ServerFrame } from '../../src/domain/frames.ts';
import { HISTORY_LENGTH, type MessageHistory } from '../../src/domain/message-history.ts';
import type { DeliveryOutcome } from '../../src/domain/messenger.ts';
import { FailingConnectionRepository } from '../fakes/failing-connection-repository.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { summary } from '../support/frame-summary.ts';
import { InProcessFanOut } from '../support/in-process-fan-out.ts';
import {
  atT0,
  chatWith,
  LIFETIME_END,
  listed,
  liveRow,
  repositoryWith,
  serviceOver,
  T0,
  newChatService,
} from '../support/service-fixtures.ts';

const ofType =
  <T extends ServerFrame['type']>(type: T) =>
  (frame: ServerFrame): frame is Extract<ServerFrame, { type: T }> =>
    frame.type === type;

describe('ChatService', () => {
  describe('construction', () => {
    it.each([0, -1, 2.5])('refuses a concurrency of %p', (concurrency) => {
      const options = {
        connections: new InMemoryConnectionRepository(),
        history: new InMemoryMessageHistory(),
        messenger: new RecordingMessenger(),
      };

      expect(() => newChatService({ ...options, concurrency })).toThrow(RangeError);
    });
  });

  describe('connect', () => {
    it('saves the connection in the room and under the name it asked for, expiring one lifetime after it connected', async () => {
      const connections = new InMemoryConnectionRepository({ now: atT0 });
      const service = serviceOver(connections, new RecordingMessenger());

      await service.connect('A', { room: 'kitchen', name: 'Ann' });

      expect(await connections.get('A')).toEqual({
        id: 'A',
        room: 'kitchen',
        name: 'Ann',
        connectedAt: T0,
        expiresAt: LIFETIME_END,
        revision: 0,
        announced: true,
      });
    });

    it('puts a connection that names no room in the lobby', async () => {
      const connections = new InMemoryConnectionRepository({ now: atT0 });
      const service = serviceOver(connections, new RecordingMessenger());

      await service.connect('A', { name: 'Ann' });

      expect(await listed(connections, 'lobby')).toEqual(['A']);
    });

    it('names a connection that gives no name "Guest" and the last four letters or digits of its id', async () => {
      const service = serviceOver(new InMemoryConnectionRepository({ now: atT0 }), new RecordingMessenger());

      const result = await service.connect('L0SM9cOFvHc-CIh=w=');

      expect(result).toMatchObject({ outcome: 'connected', connection: { name: 'Guest CIhw' } });
    });

    it('gives two connections that give no name different default names', async () => {
      const service = serviceOver(new InMemoryConnectionRepository({ now: atT0 }), new RecordingMessenger());

      const results = [await service.connect('L0SM9cOFvHcCIhw='), await service.connect('L0SM9cOFvHcCJkQ=')];
      const names = results.map((result) => (result.outcome === 'connected' ? result.connection.name : result.outcome));

      expect(new Set(names).size).toBe(2);
    });

    it('returns the connection it saved', async () => {
      const connections = new InMemoryConnectionRepository({ now: atT0 });
      const service = serviceOver(connections, new RecordingMessenger());

      const result = await service.connect('A', { room: 'kitchen' });

      expect(result).toEqual({ outcome: 'connected', connection: await connections.get('A') });
    });

    it('tells its room at once that it joined, since it hears the room from now on, and sends it nothing else', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['B', 'C']), messenger);

      await service.connect('A');

      expect(messenger.sent.map((s) => `${s.connectionId}: ${summary(s.frame)}`)).toEqual([
        'A: presence join lobby A',
        'B: presence join lobby A',
        'C: presence join lobby A',
      ]);
    });

    it('connects even when its join could not be announced, and says why', async () => {
      const connections = new InMemoryConnectionRepository({ now: atT0 });
      const failure = new Error('queue unavailable');
      const service = serviceOver(connections, new RecordingMessenger(), {
        fanOut: Object.assign(new InProcessFanOut(atT0), { enqueue: () => Promise.reject(failure) }),
      });

      const result = await service.connect('A');

      expect({ result, stored: (await connections.get('A'))?.id }).toEqual({
        result: expect.objectContaining({ outcome: 'connected', unannounced: failure }),
        stored: 'A',
      });
    });

    it('makes the connection a recipient of later messages in its room', async () => {
      const connections = await repositoryWith(['B']);
      const messenger = new RecordingMessenger();
      const service = serviceOver(connections, messenger);

      await service.connect('A');
      await service.post('B', 'hello');

      expect(messenger.framesTo('A').map((frame) => frame.type)).toEqual(['presence', 'message']);
    });
  });

  describe('disconnect', () => {
    it('removes that connection and keeps the others', async () => {
      const connections = await repositoryWith(['A', 'B', 'C']);
      const service = serviceOver(connections, new RecordingMessenger());

      await service.disconnect('B');

      expect(await listed(connections)).toEqual(['A', 'C']);
    });

    it('sends a leave presence naming the connection and its room to each member left in that room', async () => {
      const connections = await repositoryWith(['B', 'C'], 1000, 'kitchen');
      await connections.save({ ...liveRow('A', 'kitchen'), name: 'Ann' });
      const messenger = new RecordingMessenger();
      const service = serviceOver(connections, messenger);

      await service.disconnect('A');

      const leave = {
        type: 'presence',
        event: 'leave',
        room: 'kitchen',
        connectionId: 'A',
        name: 'Ann',
        rev: 1,
        at: T0.toISOString(),
        members: 0,
      };
      expect(messenger.sent).toEqual([
        { connectionId: 'B', frame: leave },
        { connectionId: 'C', frame: leave },
      ]);
    });

    it('tells no other room', async () => {
      const connections = await repositoryWith(['A', 'B'], 1000, 'kitchen');
      await connections.save(liveRow('L', 'lobby'));
      const messenger = new RecordingMessenger();
      const service = serviceOver(connections, messenger);

      await service.disconnect('A');

      expect(messenger.framesTo('L')).toEqual([]);
    });

    it('returns whether it removed the connection', async () => {
      const service = serviceOver(await repositoryWith(['A', 'B', 'C'], 1000, 'kitchen'), new RecordingMessenger());

      expect([await service.disconnect('A'), await service.disconnect('A')]).toEqual([true, false]);
    });

    it('tells the room once that a member left when a fan-out found it gone before its $disconnect arrived', async () => {
      const connections = await repositoryWith(['A', 'B', 'C'], 1000, 'kitchen');
      const messenger = new RecordingMessenger().on('C', 'gone');
      const service = serviceOver(connections, messenger);
      await service.post('A', 'anyone there?');

      await service.disconnect('C');

      expect(messenger.framesTo('B').filter(ofType('presence')).map(summary)).toEqual(['presence leave kitchen C']);
    });

    it('sends nothing for an id that is not stored', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B']), messenger);

      const report = await service.disconnect('never-connected');

      expect({ report, sent: messenger.sent }).toEqual({ report: false, sent: [] });
    });
  });

  describe('post', () => {
    it('costs one send per member even when members are found gone, whose leave is announced at once, and once', async () => {
      const messenger = new RecordingMessenger().on('C', 'gone').on('D', 'gone');
      const connections = await repositoryWith(['A', 'B', 'C', 'D']);
      const service = serviceOver(connections, messenger);

      await service.post('A', 'hello all');
      const sendsOfThePost = messenger.sent.filter((s) => s.frame.type === 'message').length;
      const leftAtOnce = messenger.sent
        .filter((s) => s.frame.type !== 'message')
        .map((s) => [s.connectionId, summary(s.frame)]);
      const sentBefore = messenger.sent.length;
      await service.disconnect('C');

      expect({
        sendsOfThePost,
        leftAtOnce,
        afterDisconnect: messenger.sent.slice(sentBefore),
        stillListed: await listed(connections),
      }).toEqual({
        sendsOfThePost: 4,
        leftAtOnce: [
          ['A', 'presence_batch lobby leave C, leave D'],
          ['B', 'presence_batch lobby leave C, leave D'],
        ],
        afterDisconnect: [],
        stillListed: ['A', 'B'],
      });
    });

    it("lists the sender's room while the message is stored, not after: no round trip of its own", async () => {
      const connections = await repositoryWith(['A', 'B']);
      const events: string[] = [];
      const list = connections.list.bind(connections);
      connections.list = (room) => {
        events.push('list asked');
        return list(room);
      };
      const history = new InMemoryMessageHistory();
      const append = history.append.bind(history);
      history.append = async (message, sentAs) => {
        events.push('store started');
        // The listing goes out before the store answers.
        await sleep(5);
        events.push('store answered');
        return append(message, sentAs);
      };
      const messenger = new RecordingMessenger();

      await serviceOver(connections, messenger, { history }).post('A', 'hello', 'c-1');

      expect({ events, delivered: messenger.sent.filter((s) => s.frame.type === 'message').length }).toEqual({
        events: ['list asked', 'store started', 'store answered'],
        delivered: 2,
      });
    });

    it('closes the listing it started when the message is a resend stored in another room', async () => {
      const chat = await chatWith({ lobby: ['A', 'B'], garden: ['G'] });
      await chat.service.post('A', 'hello', 'c-1');
      await chat.service.join('A', 'garden');
      const closed: string[] = [];
      const list = chat.connections.list.bind(chat.connections);
      chat.connections.list = (room) => {
        const pages = list(room);
        return {
          [Symbol.asyncIterator]() {
            const iterator = pages[Symbol.asyncIterator]();
            return {
              next: () => iterator.next(),
              return: async () => {
                closed.push(room);
                return (await iterator.return?.()) ?? { done: true, value: undefined };
              },
            };
          },
        };
      };

      await chat.service.post('A', 'hello', 'c-1');

      expect(closed).toContain('garden');
    });

    it('takes a resend made after its sender moved for the message it sent before, sent again to its own room', async () => {
      const chat = await chatWith({ lobby: ['A', 'B'], garden: ['G'] });
      const first = await chat.service.post('A', 'hello', 'c-1');
      await chat.service.join('A', 'garden');
      chat.messenger.sent.length = 0;

      const resent = await chat.service.post('A', 'hello', 'c-1');

      expect({
        same: resent.message.id === first.message.id,
        room: resent.message.room,
        toB: chat.messenger.framesTo('B').map(summary),
        toG: chat.messenger.framesTo('G').filter((f) => f.type === 'message').length,
        gardenHistory: (await chat.history.recent('garden')).length,
      }).toEqual({ same: true, room: 'lobby', toB: ['message hello'], toG: 0, gardenHistory: 0 });
    });

    it('stops counting a member found gone whose $disconnect never comes', async () => {
      const chat = await chatWith({ lobby: ['A', 'B', 'C'] });
      chat.messenger.on('C', 'gone');

      await chat.service.post('A', 'hello all');

      expect({
        counted: (await chat.presence.clock('lobby')).members,
        listed: await listed(chat.connections),
      }).toEqual({ counted: 2, listed: ['A', 'B'] });
    });

    it("sends the message to every member of the sender's room, the sender included", async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B', 'C']), messenger);

      await service.post('A', 'hello all');

      expect(messenger.sent.map((s) => s.connectionId).sort()).toEqual(['A', 'B', 'C']);
    });

    it("sends every recipient the same message frame, numbered and carrying the sender's id, name and room", async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B', 'C']), messenger);

      await service.post('A', 'hello all');

      const expected = {
        type: 'message',
        id: 'msg-1',
        seq: 1,
        room: 'lobby',
        from: 'A',
        name: 'Name A',
        text: 'hello all',
        sentAt: T0.toISOString(),
      };
      expect(messenger.sent.map((s) => s.frame)).toEqual([expected, expected, expected]);
    });

    it('returns the message it sent', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B']), messenger);

      const { message } = await service.post('A', 'hello');

      expect(messenger.sent.map((s) => s.frame)).toEqual([message, message]);
    });

    it('reports the room it fanned out to', async () => {
      const service = serviceOver(await repositoryWith(['A'], 1000, 'kitchen'), new RecordingMessenger());

      const { report } = await service.post('A', 'hello');

      expect(report.room).toBe('kitchen');
    });

    it('reaches each of 2,500 connections exactly once when the repository pages by 7', async () => {
      const ids = Array.from({ length: 2500 }, (_, i) => `conn-${String(i).padStart(4, '0')}`);
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(ids, 7), messenger, { concurrency: 50 });

      const { report } = await service.post('conn-0000', 'to everyone');

      const sentTo = messenger.sent.map((s) => s.connectionId);
      expect(sentTo).toHaveLength(2500);
      expect(new Set(sentTo)).toEqual(new Set(ids));
      expect(report.recipients).toBe(2500);
    });

    it('removes only the recipient reported gone', async () => {
      const connections = await repositoryWith(['A', 'B', 'C', 'D']);
      const service = serviceOver(connections, new RecordingMessenger().on('C', 'gone'));

      await service.post('A', 'hello');

      expect(await listed(connections)).toEqual(['A', 'B', 'D']);
    });

    it('keeps delivering to the others when one recipient is throttled', async () => {
      const messenger = new RecordingMessenger().on('B', new DeliveryError('B', 'throttled'));
      const service = serviceOver(await repositoryWith(['A', 'B', 'C']), messenger);

      const { report } = await service.post('A', 'hello');

      expect(report).toMatchObject({
        delivered: 2,
        failed: 1,
        failures: [{ connectionId: 'B', reason: 'throttled' }],
      });
    });

    it('keeps a recipient whose delivery failed', async () => {
      const connections = await repositoryWith(['A', 'B', 'C']);
      const service = serviceOver(connections, new RecordingMessenger().on('B', new DeliveryError('B', 'throttled')));

      await service.post('A', 'hello');

      expect(await listed(connections)).toEqual(['A', 'B', 'C']);
    });

    it('reports a failure that is not a DeliveryError as unexpected', async () => {
      const messenger = new RecordingMessenger().on('C', new Error('socket hang up'));
      const service = serviceOver(await repositoryWith(['A', 'B', 'C']), messenger);

      const { report } = await service.post('A', 'hello');

      expect(report).toMatchObject({
        delivered: 2,
        failed: 1,
        failures: [{ connectionId: 'C', reason: 'unexpected' }],
      });
    });

    it('counts every recipient in exactly one of delivered, gone and failed', async () => {
      const ids = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'];
      const messenger = new RecordingMessenger()
        .on('B', 'gone')
        .on('C', 'gone')
        .on('D', new DeliveryError('D', 'throttled'))
        .on('E', new DeliveryError('E', 'timeout'))
        .on('F', new DeliveryError('F', 'rejected'))
        .on('G', new Error('boom'));
      const service = serviceOver(await repositoryWith(ids), messenger);

      const { report } = await service.post('A', 'hello');

      expect(report).toMatchObject({ recipients: 10, delivered: 4, gone: 2, removed: 2, failed: 4 });
      expect(report.delivered + report.gone + report.failed).toBe(report.recipients);
    });

    it('reports a gone recipient whose row cannot be removed as remove_failed and still completes', async () => {
      const connections = new FailingConnectionRepository(await repositoryWith(['A', 'B', 'C'])).failRemoveOf(
        'B',
        new Error('ProvisionedThroughputExceededException'),
      );
      const messenger = new RecordingMessenger().on('B', 'gone');
      const service = serviceOver(connections, messenger);

      const { report } = await service.post('A', 'hello');

      expect(report).toMatchObject({
        recipients: 3,
        delivered: 2,
        gone: 1,
        removed: 0,
        failures: [{ connectionId: 'B', reason: 'remove_failed' }],
      });
    });

    it('itemises at most 20 failures but counts all of them', async () => {
      const ids = Array.from({ length: 30 }, (_, i) => `conn-${String(i).padStart(2, '0')}`);
      const messenger = new RecordingMessenger().otherwise(new DeliveryError('any', 'unavailable'));
      const service = serviceOver(await repositoryWith(ids), messenger);

      const { report } = await service.post('conn-00', 'hello');

      expect({ failed: report.failed, itemised: report.failures.length }).toEqual({ failed: 30, itemised: 20 });
    });

    it('never has more deliveries in flight than the configured concurrency', async () => {
      const ids = Array.from({ length: 50 }, (_, i) => `conn-${String(i).padStart(2, '0')}`);
      let inFlight = 0;
      let peak = 0;
      const messenger = new RecordingMessenger().otherwise(async (): Promise<DeliveryOutcome> => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await sleep(1);
        inFlight -= 1;
        return 'delivered';
      });
      const service = serviceOver(await repositoryWith(ids, 7), messenger, { concurrency: 4 });

      const { report } = await service.post('conn-00', 'hello');

      expect({ peak, delivered: report.delivered }).toEqual({ peak: 4, delivered: 50 });
    });

    it('does not send to connections whose rows have expired', async () => {
      const connections = new InMemoryConnectionRepository({ now: atT0 });
      await connections.save(liveRow('A'));
      await connections.save(liveRow('B', 'lobby', { expiresAt: new Date(T0.getTime() - 1) }));
      await connections.save(liveRow('C', 'lobby', { expiresAt: T0 }));
      await connections.save(liveRow('D', 'lobby', { expiresAt: new Date(T0.getTime() + 1) }));
      const messenger = new RecordingMessenger();
      const service = serviceOver(connections, messenger);

      await service.post('A', 'hello');

      expect(messenger.sent.map((s) => s.connectionId).sort()).toEqual(['A', 'D']);
    });

    it('rejects when the connections cannot be listed', async () => {
      const connections = new FailingConnectionRepository(await repositoryWith(['A'])).failList(
        new Error('listing failed'),
      );
      const service = serviceOver(connections, new RecordingMessenger());

      await expect(service.post('A', 'hello')).rejects.toThrow('listing failed');
    });

    it('settles every delivery it started before it rejects on a listing that fails part-way', async () => {
      const connections = new FailingConnectionRepository(await repositoryWith(['A', 'B', 'C', 'D'], 2)).failList(
        new Error('listing failed'),
        1,
      );
      let inFlight = 0;
      const messenger = new RecordingMessenger().otherwise(async (): Promise<DeliveryOutcome> => {
        inFlight += 1;
        await sleep(5);
        inFlight -= 1;
        return 'delivered';
      });
      const service = serviceOver(connections, messenger);

      await expect(service.post('A', 'hello')).rejects.toThrow('listing failed');

      expect(inFlight).toBe(0);
    });

    it('rejects with UnknownConnectionError when the sender is not stored', async () => {
      const service = serviceOver(await repositoryWith(['A']), new RecordingMessenger());

      await expect(service.post('ghost', 'hello')).rejects.toBeInstanceOf(UnknownConnectionError);
    });

    it('names the unknown sender in the UnknownConnectionError', async () => {
      const service = serviceOver(await repositoryWith(['A']), new RecordingMessenger());

      await expect(service.post('ghost', 'hello')).rejects.toMatchObject({
        name: 'UnknownConnectionError',
        connectionId: 'ghost',
      });
    });

    it('sends and stores nothing for a sender that is not stored', async () => {
      const history = new InMemoryMessageHistory();
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A']), messenger, { history });

      await service.post('ghost', 'hello').catch(() => undefined);

      expect({ sent: messenger.sent, kept: await history.recent('lobby') }).toEqual({ sent: [], kept: [] });
    });

    it('treats a sender whose row has expired as unknown', async () => {
      const connections = new InMemoryConnectionRepository({ now: atT0 });
      await connections.save(liveRow('A', 'lobby', { expiresAt: T0 }));
      const service = serviceOver(connections, new RecordingMessenger());

      await expect(service.post('A', 'hello')).rejects.toBeInstanceOf(UnknownConnectionError);
    });

    it('sends nothing when the history cannot store the message', async () => {
      const failingHistory: MessageHistory = {
        append: async () => {
          throw new Error('history unavailable');
        },
        recent: async () => [],
      };
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B']), messenger, { history: failingHistory });

      await expect(service.post('A', 'hello')).rejects.toThrow('history unavailable');
      expect(messenger.sent).toEqual([]);
    });
  });

  describe('handshakes', () => {
    it('keeps a member that a fan-out finds gone while it is still in its handshake, and welcomes its hello', async () => {
      const connections = await repositoryWith(['A']);
      const messenger = new RecordingMessenger();
      const service = serviceOver(connections, messenger);
      // B's $connect has stored it, but API Gateway answers 410 until the handshake completes.
      await service.connect('B');
      messenger.on('B', 'gone');
      await service.post('A', 'while B connects');
      messenger.on('B', 'delivered');

      await service.hello('B');

      expect({ listed: await listed(connections), toB: messenger.framesTo('B').map((f) => f.type) }).toEqual({
        listed: ['A', 'B'],
        toB: ['presence', 'message', 'welcome', 'message'],
      });
    });

    it('retires a member reported gone once its handshake is long over', async () => {
      const connections = await repositoryWith(['A', 'B']);
      const messenger = new RecordingMessenger().on('B', 'gone');
      const service = serviceOver(connections, messenger);

      await service.post('A', 'hello');

      expect(await listed(connections)).toEqual(['A']);
    });
  });

  describe('history', () => {
    it("appends each posted message to its room's history with an increasing seq", async () => {
      const history = new InMemoryMessageHistory();
      const service = serviceOver(await repositoryWith(['A', 'B']), new RecordingMessenger(), { history });

      await service.post('A', 'one');
      await service.post('B', 'two');
      await service.post('A', 'three');

      expect((await history.recent('lobby')).map((m) => [m.seq, m.text])).toEqual([
        [1, 'one'],
        [2, 'two'],
        [3, 'three'],
      ]);
    });

    it("numbers each room's messages on their own", async () => {
      const connections = await repositoryWith(['A']);
      await connections.save(liveRow('K', 'kitchen'));
      const service = serviceOver(connections, new RecordingMessenger());

      await service.post('A', 'one');
      await service.post('A', 'two');
      const { message } = await service.post('K', 'first in the kitchen');

      expect(message.seq).toBe(1);
    });

    it("stores a message in the sender's room only", async () => {
      const connections = await repositoryWith(['A']);
      await connections.save(liveRow('K', 'kitchen'));
      const history = new InMemoryMessageHistory();
      const service = serviceOver(connections, new RecordingMessenger(), { history });

      await service.post('K', 'kitchen talk');

      expect({ lobby: await history.recent('lobby'), kitchen: (await history.recent('kitchen')).length }).toEqual({
        lobby: [],
        kitchen: 1,
      });
    });

    it("replays the room's messages to a hello oldest first, after a welcome that counts them", async () => {
      const connections = await repositoryWith(['A', 'B']);
      const messenger = new RecordingMessenger();
      const service = serviceOver(connections, messenger);
      for (const text of ['one', 'two', 'three']) await service.post('A', text);
      messenger.sent.length = 0;

      await service.hello('B');

      expect(messenger.framesTo('B').map(summary)).toEqual([
        'welcome lobby replay=3',
        'message one',
        'message two',
        'message three',
      ]);
    });

    it(`replays only the newest ${HISTORY_LENGTH} messages of a room`, async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A']), messenger);
      for (let n = 1; n <= HISTORY_LENGTH + 7; n += 1) await service.post('A', `message ${n}`);
      messenger.sent.length = 0;

      await service.hello('A');

      const replayed = messenger.framesTo('A').filter(ofType('message'));
      expect({ count: replayed.length, first: replayed[0]?.seq, last: replayed.at(-1)?.seq }).toEqual({
        count: HISTORY_LENGTH,
        first: 8,
        last: HISTORY_LENGTH + 7,
      });
    });

    it('replays only the messages after the id a hello names', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A']), messenger);
      for (const text of ['one', 'two', 'three', 'four']) await service.post('A', text);
      messenger.sent.length = 0;

      await service.hello('A', { id: 'msg-2' });

      expect(messenger.framesTo('A').map(summary)).toEqual(['welcome lobby replay=2', 'message three', 'message four']);
    });

    it('replays everything kept when a hello names an id it does not keep', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A']), messenger);
      for (const text of ['one', 'two']) await service.post('A', text);
      messenger.sent.length = 0;

      await service.hello('A', { id: 'an-id-from-long-ago' });

      expect(
        messenger
          .framesTo('A')
          .filter(ofType('message'))
          .map((m) => m.text),
      ).toEqual(['one', 'two']);
    });

    it('stops replaying to a caller whose welcome finds it gone, and forgets it', async () => {
      const connections = await repositoryWith(['A', 'B']);
      const messenger = new RecordingMessenger();
      const service = serviceOver(connections, messenger);
      for (const text of ['one', 'two']) await service.post('A', text);
      messenger.sent.length = 0;
      messenger.on('B', 'gone');

      await service.hello('B');

      expect({ toB: messenger.framesTo('B').map((f) => f.type), left: await listed(connections) }).toEqual({
        toB: ['welcome'],
        left: ['A'],
      });
    });
  });

  describe('acks', () => {
    it('acknowledges a message with a clientMsgId to its sender with its id, seq and delivery counts', async () => {
      const messenger = new RecordingMessenger().on('C', 'gone').on('D', new DeliveryError('D', 'throttled'));
      const service = serviceOver(await repositoryWith(['A', 'B', 'C', 'D']), messenger);

      const { message } = await service.post('A', 'did you get it?', 'client-1');

      expect(messenger.framesTo('A').filter(ofType('ack'))).toEqual([
        {
          type: 'ack',
          clientMsgId: 'client-1',
          id: message.id,
          seq: message.seq,
          recipients: 4,
          delivered: 2,
          gone: 1,
          failed: 1,
        },
      ]);
    });

    it("sends the ack after the sender's own copy of the message", async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B']), messenger);

      await service.post('A', 'hello', 'client-1');

      expect(messenger.framesTo('A').map((frame) => frame.type)).toEqual(['message', 'ack']);
    });

    it('sends the ack only once every delivery of the message has settled', async () => {
      let settled = 0;
      let settledWhenAcked: number | undefined;
      const messenger = new RecordingMessenger().otherwise(async (frame): Promise<DeliveryOutcome> => {
        if (frame.type === 'ack') {
          settledWhenAcked = settled;
          return 'delivered';
        }
        await sleep(2);
        settled += 1;
        return 'delivered';
      });
      const service = serviceOver(await repositoryWith(['A', 'B', 'C']), messenger);

      await service.post('A', 'hello', 'client-1');

      expect(settledWhenAcked).toBe(3);
    });

    it('sends the ack to the sender only', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B', 'C']), messenger);

      await service.post('A', 'hello', 'client-1');

      expect(messenger.sent.filter((s) => s.frame.type === 'ack').map((s) => s.connectionId)).toEqual(['A']);
    });

    it('takes a resend with the clientMsgId of a kept message for that message: stored once, acked with its id and seq', async () => {
      const messenger = new RecordingMessenger();
      const history = new InMemoryMessageHistory();
      const service = serviceOver(await repositoryWith(['A', 'B']), messenger, { history });

      const first = await service.post('A', 'hello', 'client-1');
      const resent = await service.post('A', 'hello', 'client-1');

      expect({
        kept: (await history.recent('lobby')).map((m) => m.id),
        acks: messenger.framesTo('A').flatMap((f) => (f.type === 'ack' ? [[f.id, f.seq]] : [])),
        toB: messenger.framesTo('B').map((f) => (f.type === 'message' ? f.id : f.type)),
      }).toEqual({
        kept: [first.message.id],
        acks: [
          [first.message.id, 1],
          [resent.message.id, 1],
        ],
        toB: [first.message.id, first.message.id],
      });
      expect(resent.message).toEqual(first.message);
    });

    it('stores one message for two posts with the same clientMsgId that race each other', async () => {
      const history = new InMemoryMessageHistory();
      const service = serviceOver(await repositoryWith(['A', 'B']), new RecordingMessenger(), { history });

      const [one, other] = await Promise.all([
        service.post('A', 'hello', 'client-1'),
        service.post('A', 'hello', 'client-1'),
      ]);

      expect({ kept: (await history.recent('lobby')).length, same: one.message.id === other.message.id }).toEqual({
        kept: 1,
        same: true,
      });
    });

    it("takes a resend from the signed-in user's new connection for the message it resends", async () => {
      const messenger = new RecordingMessenger();
      const history = new InMemoryMessageHistory();
      const connections = await repositoryWith([]);
      await connections.save({ ...liveRow('A'), userId: 'user-1' });
      await connections.save({ ...liveRow('A2'), userId: 'user-1' });
      const service = serviceOver(connections, messenger, { history });

      const first = await service.post('A', 'hello', 'client-1');
      await service.post('A2', 'hello', 'client-1');

      expect({
        kept: (await history.recent('lobby')).map((m) => m.id),
        ack: messenger.framesTo('A2').flatMap((f) => (f.type === 'ack' ? [f.id] : [])),
      }).toEqual({ kept: [first.message.id], ack: [first.message.id] });
    });

    it("takes a resend from the same page's new connection, known by its clientId, for the message it resends", async () => {
      const messenger = new RecordingMessenger();
      const history = new InMemoryMessageHistory();
      const service = serviceOver(await repositoryWith(['A', 'A2']), messenger, { history });

      const first = await service.post('A', 'hello', 'client-1', 'page-1');
      await service.post('A2', 'hello', 'client-1', 'page-1');

      expect({
        kept: (await history.recent('lobby')).map((m) => m.id),
        ack: messenger.framesTo('A2').flatMap((f) => (f.type === 'ack' ? [f.id] : [])),
      }).toEqual({ kept: [first.message.id], ack: [first.message.id] });
    });

    it.each([
      { who: 'pages', first: { id: 'A', clientId: 'page-1' }, second: { id: 'B', clientId: 'page-2' } },
      { who: 'connections without a clientId', first: { id: 'A' }, second: { id: 'B' } },
    ])('keeps apart messages of two $who that chose the same clientMsgId', async ({ first, second }) => {
      const history = new InMemoryMessageHistory();
      const service = serviceOver(await repositoryWith(['A', 'B']), new RecordingMessenger(), { history });

      await service.post(first.id, 'hello', 'c-1', first.clientId);
      await service.post(second.id, 'hi', 'c-1', second.clientId);

      expect((await history.recent('lobby')).map((m) => m.text)).toEqual(['hello', 'hi']);
    });

    it('keeps apart messages of two signed-in users that chose the same clientMsgId and clientId', async () => {
      const history = new InMemoryMessageHistory();
      const connections = await repositoryWith([]);
      await connections.save({ ...liveRow('A'), userId: 'user-1' });
      await connections.save({ ...liveRow('B'), userId: 'user-2' });
      const service = serviceOver(connections, new RecordingMessenger(), { history });

      await service.post('A', 'hello', 'c-1', 'page-1');
      await service.post('B', 'hi', 'c-1', 'page-1');

      expect((await history.recent('lobby')).map((m) => m.text)).toEqual(['hello', 'hi']);
    });

    it('sends no ack for a message without a clientMsgId', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B']), messenger);

      await service.post('A', 'hello');

      expect(messenger.sent.filter((s) => s.frame.type === 'ack')).toEqual([]);
    });
  });

  describe('echo', () => {
    it('sends an echo frame with id, sender, text and time to the sender only', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B', 'C']), messenger);

      await service.echo('A', 'hi there');

      expect(messenger.sent).toEqual([
        {
          connectionId: 'A',
          frame: { type: 'echo', id: 'msg-1', from: 'A', text: 'hi there', sentAt: T0.toISOString() },
        },
      ]);
    });

    it('returns the frame it sent', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A']), messenger);

      const frame = await service.echo('A', 'hi');

      expect(messenger.framesTo('A')).toEqual([frame]);
    });

    it('stores nothing in the history', async () => {
      const history = new InMemoryMessageHistory();
      const service = serviceOver(await repositoryWith(['A']), new RecordingMessenger(), { history });

      await service.echo('A', 'hi');

      expect(await history.recent('lobby')).toEqual([]);
    });

    it('removes a sender reported gone', async () => {
      const connections = await repositoryWith(['A', 'B']);
      const service = serviceOver(connections, new RecordingMessenger().on('A', 'gone'));

      await service.echo('A', 'hi');

      expect(await listed(connections)).toEqual(['B']);
    });
  });

  describe('pong', () => {
    it('tells the caller its own connection id', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B']), messenger);

      await service.pong('B');

      expect(messenger.sent).toEqual([{ connectionId: 'B', frame: { type: 'pong', connectionId: 'B' } }]);
    });

    it('removes a caller that the pong finds gone', async () => {
      const connections = await repositoryWith(['A', 'B']);
      const service = serviceOver(connections, new RecordingMessenger().on('B', 'gone'));

      await service.pong('B');

      expect(await listed(connections)).toEqual(['A']);
    });
  });

  describe('reject', () => {
    it('sends an error frame with code and message to that one connection only', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B']), messenger);

      await service.reject('A', 'empty_message', 'message text is empty');

      expect(messenger.sent).toEqual([
        { connectionId: 'A', frame: { type: 'error', code: 'empty_message', message: 'message text is empty' } },
      ]);
    });

    it('names the clientMsgId of the refused message in the error frame', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A']), messenger);

      await service.reject('A', 'empty_message', 'message text is empty', 'client-7');

      expect(messenger.framesTo('A')).toEqual([
        { type: 'error', code: 'empty_message', message: 'message text is empty', clientMsgId: 'client-7' },
      ]);
    });

    it('removes a connection that the error frame finds gone', async () => {
      const connections = await repositoryWith(['A', 'B']);
      const service = serviceOver(connections, new RecordingMessenger().on('A', 'gone'));

      const outcome = await service.reject('A', 'empty_message', 'message text is empty');

      expect({ outcome, left: await listed(connections) }).toEqual({ outcome: 'gone', left: ['B'] });
    });

    it('keeps a connection that received the error frame', async () => {
      const connections = await repositoryWith(['A', 'B']);
      const service = serviceOver(connections, new RecordingMessenger());

      const outcome = await service.reject('A', 'empty_message', 'message text is empty');

      expect({ outcome, left: await listed(connections) }).toEqual({ outcome: 'delivered', left: ['A', 'B'] });
    });
  });
});
