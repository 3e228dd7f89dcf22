import { describe, expect, it } from '@jest/globals';
import { InMemoryConnectionQuota } from '../../src/adapters/in-memory-connection-quota.ts';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import { InMemoryOwnerBudget } from '../../src/adapters/in-memory-owner-budget.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { newChatService } from '../support/service-fixtures.ts';

const ADDRESS = { sourceIp: '203.0.113.9' };

/** A chat whose owners may spend 10 units per 10 s, a connect costing 4; its save takes slots, or not. */
function chat(takesSlots: boolean) {
  const start = Date.parse('2030-01-01T00:00:00.000Z');
  let now = start;
  const clock = () => new Date(now);
  const ownerBudget = new InMemoryOwnerBudget({ frames: 10, windowSeconds: 10 }, clock);
  const quota = new InMemoryConnectionQuota({ perUser: 0, perIp: 0 }, clock);
  const connections = new InMemoryConnectionRepository({
    now: clock,
    ...(takesSlots ? { quota, ownerBudget } : {}),
  });
  const service = newChatService({
    connections,
    history: new InMemoryMessageHistory(),
    messenger: new RecordingMessenger(),
    concurrency: 4,
    quota,
    ownerBudget,
    connectWeight: 4,
    now: clock,
  });
  return { service, connections, ownerBudget, after: (ms: number) => (now = start + ms) };
}

describe.each([
  ['a save that takes the slots', true],
  ['slots claimed before the save', false],
])("ChatService connects within their owner's budget: %s", (_, takesSlots) => {
  it('refuses a connect its owner has no budget left for, storing nothing and telling no room', async () => {
    const { service, connections } = chat(takesSlots);
    const outcomes = [];
    for (const id of ['A', 'B', 'C']) outcomes.push((await service.connect(id, { ...ADDRESS, room: 'r' })).outcome);

    expect({ outcomes, stored: await connections.get('C'), members: await connections.members('r', 10) }).toEqual({
      outcomes: ['connected', 'connected', 'over_budget'],
      stored: undefined,
      members: { members: [expect.objectContaining({ id: 'A' }), expect.objectContaining({ id: 'B' })] },
    });
  });

  it("spends the owner's budget on each connect, which its frames then share, and gives it back over time", async () => {
    const { service, ownerBudget, after } = chat(takesSlots);
    await service.connect('A', ADDRESS);
    await service.connect('B', ADDRESS);

    const spends = [await ownerBudget.spend('ip:203.0.113.9', 2), await ownerBudget.spend('ip:203.0.113.9', 1)];
    after(1_000);
    spends.push(await ownerBudget.spend('ip:203.0.113.9', 1));

    expect(spends).toEqual(['allowed', 'limited-notify', 'allowed']);
  });

  it('keeps the budgets of a user and of the address it connects from apart: a user spends its own', async () => {
    const { service } = chat(takesSlots);
    await service.connect('A', { ...ADDRESS, userId: 'u1' });
    await service.connect('B', { ...ADDRESS, userId: 'u1' });

    const outcomes = [
      (await service.connect('C', { ...ADDRESS, userId: 'u1' })).outcome,
      (await service.connect('D', { ...ADDRESS, userId: 'u2' })).outcome,
      (await service.connect('E', ADDRESS)).outcome,
    ];

    expect(outcomes).toEqual(['over_budget', 'connected', 'connected']);
  });

  it('budgets no connect whose owner it cannot tell', async () => {
    const { service } = chat(takesSlots);
    const outcomes = [];
    for (const id of ['A', 'B', 'C', 'D']) outcomes.push((await service.connect(id, {})).outcome);

    expect(outcomes).toEqual(['connected', 'connected', 'connected', 'connected']);
  });
});
