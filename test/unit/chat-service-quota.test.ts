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
