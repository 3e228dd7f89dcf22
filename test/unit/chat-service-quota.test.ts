import { describe, expect, it } from '@jest/globals';
import { InMemoryConnectionQuota } from '../../src/adapters/in-memory-connection-quota.ts';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import type { ConnectionCaps } from '../../src/domain/connection-quota.ts';
import type { ConnectionRepository } from '../../src/domain/connection-repository.ts';
import { FailingConnectionRepository } from '../fakes/failing-connection-repository.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { newChatService } from '../support/service-fixtures.ts';

const ANN = { userId: 'user-ann', sourceIp: '198.51.100.1' };

function chat(caps: ConnectionCaps, connections: ConnectionRepository = new InMemoryConnectionRepository()) {
  const quota = new InMemoryConnectionQuota(caps);
  const service = newChatService({
    connections,
    history: new InMemoryMessageHistory(),
    messenger: new RecordingMessenger(),
    concurrency: 4,
    quota,
  });
  return { service, quota, connections };
}

describe('ChatService connection caps', () => {
  it("refuses a connection over its user's cap with user_at_cap, and stores nothing for it", async () => {
    const { service, connections } = chat({ perUser: 2, perIp: 0 });
    await service.connect('A', ANN);
    await service.connect('B', ANN);

    const result = await service.connect('C', ANN);

    expect({ result, stored: await connections.get('C') }).toEqual({
      result: { outcome: 'user_at_cap' },
      stored: undefined,
    });
  });

  it("refuses a connection over its address's cap with ip_at_cap, whoever its user", async () => {
    const { service } = chat({ perUser: 10, perIp: 1 });
    await service.connect('A', { userId: 'u1', sourceIp: '203.0.113.5' });

    expect(await service.connect('B', { userId: 'u2', sourceIp: '203.0.113.5' })).toEqual({ outcome: 'ip_at_cap' });
  });

  it('connects users and addresses under their caps', async () => {
    const { service } = chat({ perUser: 1, perIp: 1 });

    const results = [
      await service.connect('A', { userId: 'u1', sourceIp: '203.0.113.1' }),
      await service.connect('B', { userId: 'u2', sourceIp: '203.0.113.2' }),
      await service.connect('C', {}),
    ];

    expect(results.map((result) => result.outcome)).toEqual(['connected', 'connected', 'connected']);
  });

  it("gives a closed connection's slots back, so that its user can connect again", async () => {
    const { service } = chat({ perUser: 1, perIp: 1 });
    await service.connect('A', ANN);

    await service.disconnect('A', ANN);

    expect((await service.connect('B', ANN)).outcome).toBe('connected');
  });

  it('gives the slot back to the user the connection was stored with when the closing event names none', async () => {
    const { service } = chat({ perUser: 1, perIp: 0 });
    await service.connect('A', ANN);

    await service.disconnect('A');

    expect((await service.connect('B', ANN)).outcome).toBe('connected');
  });

  it('gives back the slots of a connection whose row is gone already', async () => {
    const { service, connections } = chat({ perUser: 1, perIp: 1 });
    await service.connect('A', ANN);
    await connections.remove('A');

    await service.disconnect('A', ANN);

    expect((await service.connect('B', ANN)).outcome).toBe('connected');
  });

  it('gives the slots back when storing the connection fails, and still fails', async () => {
    const table = new InMemoryConnectionRepository();
    const failing = new FailingConnectionRepository(table).failSave(new Error('DynamoDB is down'));
    const quota = new InMemoryConnectionQuota({ perUser: 1, perIp: 1 });
    const parts = { history: new InMemoryMessageHistory(), messenger: new RecordingMessenger(), concurrency: 4, quota };
    const broken = newChatService({ ...parts, connections: failing });
    const working = newChatService({ ...parts, connections: table });

    const failure = await broken.connect('A', ANN).catch((error: unknown) => error);

    expect({ failure, next: (await working.connect('B', ANN)).outcome }).toEqual({
      failure: new Error('DynamoDB is down'),
      next: 'connected',
    });
  });
});

describe('ChatService connection caps, with a repository that takes the slots with the save', () => {
  /** The quota inside the repository, as the composition root wires DynamoDB: a connect is one write. */
  function wired(caps: ConnectionCaps, now: () => Date = () => new Date()) {
    const quota: InMemoryConnectionQuota = new InMemoryConnectionQuota(
      caps,
      now,
      async (id: string): Promise<boolean> => (await connections.get(id)) !== undefined,
    );
    const connections: InMemoryConnectionRepository = new InMemoryConnectionRepository({ now, quota });
    const calls: string[] = [];
    const claim = quota.claim.bind(quota);
    quota.claim = (...args) => {
      calls.push('claim');
      return claim(...args);
    };
    const saveWithSlots = connections.saveWithSlots.bind(connections);
    connections.saveWithSlots = (...args) => {
      calls.push('saveWithSlots');
      return saveWithSlots(...args);
    };
    const service = newChatService({
      connections,
      history: new InMemoryMessageHistory(),
      messenger: new RecordingMessenger(),
      concurrency: 4,
      quota,
      now,
    });
    return { service, connections, quota, calls };
  }

  it("stores a connection and takes its owners' slots in one write, claiming nothing first", async () => {
    const { service, connections, calls } = wired({ perUser: 2, perIp: 0 });

    const results = [await service.connect('A', ANN), await service.connect('B', ANN), await service.connect('C', ANN)];

    expect({
      outcomes: results.map((result) => result.outcome),
      stored: (await Promise.all(['A', 'B', 'C'].map((id) => connections.get(id)))).map((c) => c?.id),
      calls,
    }).toEqual({
      outcomes: ['connected', 'connected', 'user_at_cap'],
      stored: ['A', 'B', undefined],
      // C's owner looked full: the quota's claim had its say (and refused), and nothing was stored.
      calls: ['saveWithSlots', 'saveWithSlots', 'saveWithSlots', 'claim'],
    });
  });

  it("connects through the quota's claim when the owner's only slot is held by a connection that never stored its row", async () => {
    let now = new Date('2030-01-01T00:00:00.000Z');
    const { service, connections, quota, calls } = wired({ perUser: 1, perIp: 0 }, () => now);
    // A $connect that claimed and then failed before its save: its slot is abandoned.
    await quota.claim('lost', ANN, new Date(now.getTime() + 3_600_000));
    calls.length = 0;
    now = new Date(now.getTime() + 120_000);

    const result = await service.connect('next', ANN);

    expect({ outcome: result.outcome, stored: (await connections.get('next'))?.id, calls }).toEqual({
      outcome: 'connected',
      stored: 'next',
      calls: ['saveWithSlots', 'claim'],
    });
  });
});
