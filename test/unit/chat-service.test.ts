import { describe, expect, it } from '@jest/globals';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { CONNECTION_LIFETIME_MS, ChatService } from '../../src/domain/chat-service.ts';
import type { Connection } from '../../src/domain/connection.ts';
import type { ConnectionRepository } from '../../src/domain/connection-repository.ts';
import { DeliveryError } from '../../src/domain/errors.ts';
import type { DeliveryOutcome } from '../../src/domain/messenger.ts';
import { FailingConnectionRepository } from '../fakes/failing-connection-repository.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const atT0 = (): Date => T0;

function sequentialIds(): () => string {
  let next = 0;
  return () => `msg-${++next}`;
}

function liveRow(id: string, expiresAt = new Date(T0.getTime() + CONNECTION_LIFETIME_MS)): Connection {
  return { id, connectedAt: T0, expiresAt };
}

async function repositoryWith(ids: readonly string[], pageSize = 1000): Promise<InMemoryConnectionRepository> {
  const connections = new InMemoryConnectionRepository({ pageSize, now: atT0 });
  for (const id of ids) await connections.save(liveRow(id));
  return connections;
}

async function listed(connections: ConnectionRepository): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of connections.list()) ids.push(...page);
  return ids.sort();
}

function serviceOver(connections: ConnectionRepository, messenger: RecordingMessenger, concurrency = 4): ChatService {
  return new ChatService({ connections, messenger, concurrency, now: atT0, newId: sequentialIds() });
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('ChatService', () => {
  describe('construction', () => {
    it.each([0, -1, 2.5])('refuses a concurrency of %p', (concurrency) => {
      const options = { connections: new InMemoryConnectionRepository(), messenger: new RecordingMessenger() };

      expect(() => new ChatService({ ...options, concurrency })).toThrow(RangeError);
    });
  });

  describe('connect', () => {
    it('saves the connection with an expiry one connection lifetime after it connected', async () => {
      const saved: Connection[] = [];
      const recording: ConnectionRepository = {
        save: async (connection) => {
          saved.push(connection);
        },
        remove: async () => undefined,
        list: async function* () {},
      };
      const service = serviceOver(recording, new RecordingMessenger());

      await service.connect('A');

      expect(saved).toEqual([
        { id: 'A', connectedAt: T0, expiresAt: new Date(T0.getTime() + CONNECTION_LIFETIME_MS) },
      ]);
    });

    it('makes the connection a recipient of later broadcasts', async () => {
      const connections = new InMemoryConnectionRepository({ now: atT0 });
      const messenger = new RecordingMessenger();
      const service = serviceOver(connections, messenger);

      await service.connect('A');
      await service.broadcast('B', 'hello');

      expect(messenger.sent.map((s) => s.connectionId)).toEqual(['A']);
    });
  });

  describe('disconnect', () => {
    it('removes that connection and keeps the others', async () => {
      const connections = await repositoryWith(['A', 'B', 'C']);
      const service = serviceOver(connections, new RecordingMessenger());

      await service.disconnect('B');

      expect(await listed(connections)).toEqual(['A', 'C']);
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

    it('removes a sender reported gone', async () => {
      const connections = await repositoryWith(['A', 'B']);
      const service = serviceOver(connections, new RecordingMessenger().on('A', 'gone'));

      await service.echo('A', 'hi');

      expect(await listed(connections)).toEqual(['B']);
    });
  });

  describe('broadcast', () => {
    it('sends the message to every stored connection, the sender included', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B', 'C']), messenger);

      await service.broadcast('A', 'hello all');

      expect(messenger.sent.map((s) => s.connectionId).sort()).toEqual(['A', 'B', 'C']);
    });

    it('sends every recipient the same message frame', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B', 'C']), messenger);

      await service.broadcast('A', 'hello all');

      const expected = { type: 'message', id: 'msg-1', from: 'A', text: 'hello all', sentAt: T0.toISOString() };
      expect(messenger.sent.map((s) => s.frame)).toEqual([expected, expected, expected]);
    });

    it('reports the id of the message it sent', async () => {
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(['A', 'B']), messenger);

      const report = await service.broadcast('A', 'hello');

      expect(messenger.sent.map((s) => 'id' in s.frame && s.frame.id)).toEqual([report.messageId, report.messageId]);
    });

    it('reaches each of 2,500 connections exactly once when the repository pages by 7', async () => {
      const ids = Array.from({ length: 2500 }, (_, i) => `conn-${String(i).padStart(4, '0')}`);
      const messenger = new RecordingMessenger();
      const service = serviceOver(await repositoryWith(ids, 7), messenger, 50);

      const report = await service.broadcast('conn-0000', 'to everyone');

      const sentTo = messenger.sent.map((s) => s.connectionId);
      expect(sentTo).toHaveLength(2500);
      expect(new Set(sentTo)).toEqual(new Set(ids));
      expect(report.recipients).toBe(2500);
    });

    it('removes only the recipient reported gone', async () => {
      const connections = await repositoryWith(['A', 'B', 'C', 'D']);
      const service = serviceOver(connections, new RecordingMessenger().on('C', 'gone'));

      await service.broadcast('A', 'hello');

      expect(await listed(connections)).toEqual(['A', 'B', 'D']);
    });

    it('keeps delivering to the others when one recipient is throttled', async () => {
      const messenger = new RecordingMessenger().on('B', new DeliveryError('B', 'throttled'));
      const service = serviceOver(await repositoryWith(['A', 'B', 'C']), messenger);

      const report = await service.broadcast('A', 'hello');

      expect(report).toMatchObject({
        delivered: 2,
        failed: 1,
        failures: [{ connectionId: 'B', reason: 'throttled' }],
      });
    });

    it('keeps a recipient whose delivery failed', async () => {
      const connections = await repositoryWith(['A', 'B', 'C']);
      const service = serviceOver(connections, new RecordingMessenger().on('B', new DeliveryError('B', 'throttled')));

      await service.broadcast('A', 'hello');

      expect(await listed(connections)).toEqual(['A', 'B', 'C']);
    });

    it('reports a failure that is not a DeliveryError as unexpected', async () => {
      const messenger = new RecordingMessenger().on('C', new Error('socket hang up'));
      const service = serviceOver(await repositoryWith(['A', 'B', 'C']), messenger);

      const report = await service.broadcast('A', 'hello');

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

      const report = await service.broadcast('A', 'hello');

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

      const report = await service.broadcast('A', 'hello');

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

      const report = await service.broadcast('conn-00', 'hello');

      expect({ failed: report.failed, itemised: report.failures.length }).toEqual({ failed: 30, itemised: 20 });
    });

    it('never has more deliveries in flight than the configured concurrency', async () => {
      const ids = Array.from({ length: 50 }, (_, i) => `conn-${String(i).padStart(2, '0')}`);
      let inFlight = 0;
      let peak = 0;
      const messenger = new RecordingMessenger().otherwise(async (): Promise<DeliveryOutcome> => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await delay(1);
        inFlight -= 1;
        return 'delivered';
      });
      const service = serviceOver(await repositoryWith(ids, 7), messenger, 4);

      const report = await service.broadcast('conn-00', 'hello');

      expect({ peak, delivered: report.delivered }).toEqual({ peak: 4, delivered: 50 });
    });

    it('does not send to connections whose rows have expired', async () => {
      const connections = new InMemoryConnectionRepository({ now: atT0 });
      await connections.save(liveRow('A'));
      await connections.save(liveRow('B', new Date(T0.getTime() - 1)));
      await connections.save(liveRow('C', T0));
      await connections.save(liveRow('D', new Date(T0.getTime() + 1)));
      const messenger = new RecordingMessenger();
      const service = serviceOver(connections, messenger);

      await service.broadcast('A', 'hello');

      expect(messenger.sent.map((s) => s.connectionId).sort()).toEqual(['A', 'D']);
    });

    it('rejects when the connections cannot be listed', async () => {
      const connections = new FailingConnectionRepository(await repositoryWith(['A'])).failList(
        new Error('listing failed'),
      );
      const service = serviceOver(connections, new RecordingMessenger());

      await expect(service.broadcast('A', 'hello')).rejects.toThrow('listing failed');
    });

    it('settles every delivery it started before it rejects on a listing that fails part-way', async () => {
      const connections = new FailingConnectionRepository(await repositoryWith(['A', 'B', 'C', 'D'], 2)).failList(
        new Error('listing failed'),
        1,
      );
      let inFlight = 0;
      const messenger = new RecordingMessenger().otherwise(async (): Promise<DeliveryOutcome> => {
        inFlight += 1;
        await delay(5);
        inFlight -= 1;
        return 'delivered';
      });
      const service = serviceOver(connections, messenger);

      await expect(service.broadcast('A', 'hello')).rejects.toThrow('listing failed');

      expect(inFlight).toBe(0);
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
