import { describe, expect, it } from '@jest/globals';
import { DynamoDbConnectionQuota } from '../../src/adapters/dynamodb-connection-quota.ts';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';
import { DynamoDbPresenceLog } from '../../src/adapters/dynamodb-presence-log.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import type { ServerFrame } from '../../src/domain/frames.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { scriptedFaultsOnDynalite } from '../support/dynamodb-fault-proxy.ts';
import { summary } from '../support/frame-summary.ts';
import { InProcessFanOut } from '../support/in-process-fan-out.ts';
import { listed, newChatService } from '../support/service-fixtures.ts';

const SEED = 20_261_206;
/** The SDK's attempts per request: a fault injected this many times in a row outlives its retries. */
const ATTEMPTS = 3;

/**
 * Operations whose DynamoDB requests fail part-way, on dynalite behind the fault proxy: a request failed
 * before it applied (every attempt of it), or applied with its answer lost (so the SDK replays it). Each
 * test then lets whoever runs next (a retry, a redelivered job) finish, and checks what the chat shows.
 */
describe('operations that fail part-way on DynamoDB, finished by whoever runs next', () => {
  const faults = scriptedFaultsOnDynalite(SEED, ATTEMPTS);

  /** Fails every attempt of the next request labelled `label` before it applies. */
  function failForGood(label: string): void {
    for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) faults.proxy.failNext(label, 'dropBefore');
  }

  it('gives the slot back when a $disconnect cannot remove its row, and lets the next post find it gone and announce the leave', async () => {
    const tableName = await faults.target.table();
    let now = Date.now();
    const clock = (): Date => new Date(now);
    const messenger = new RecordingMessenger();
    const connections = new DynamoDbConnectionRepository(faults.client, { tableName, now: clock });
    const presence = new DynamoDbPresenceLog(faults.client, { tableName, now: clock });
    const service = newChatService({
      connections,
      presence,
      quota: new DynamoDbConnectionQuota(faults.client, { tableName, caps: { perUser: 1, perIp: 0 }, now: clock }),
      history: new InMemoryMessageHistory(),
      messenger,
      concurrency: 4,
      now: clock,
    });
    await service.connect('ann-1', { room: 'x', userId: 'ann' });
    await service.connect('bob', { room: 'x' });
    messenger.sent.length = 0;

    failForGood('TransactWriteItems conn#');
    messenger.on('ann-1', 'gone');
    const failed = await service.disconnect('ann-1', { userId: 'ann' }).catch((error: unknown) => error);
    // API Gateway does not retry a $disconnect: the row stays listed until a fan-out finds the socket gone.
    const secondTab = await service.connect('ann-2', { room: 'x', userId: 'ann' });
    // Past its handshake, a 410 means gone.
    now += 60_000;
    await service.post('bob', 'still there?');

    expect({
      failed: failed instanceof Error,
      toBob: messenger.framesTo('bob').flatMap((f) => (f.type === 'presence' ? [`${f.event} ${f.connectionId}`] : [])),
      secondTab: secondTab.outcome,
      members: (await presence.clock('x')).members,
      listed: await listed(connections, 'x'),
    }).toEqual({
      failed: true,
      toBob: ['join ann-2', 'leave ann-1'],
      secondTab: 'connected',
      members: 2,
      listed: ['ann-2', 'bob'],
    });
  });

  /** Presence on DynamoDB with a one-second window and a clock the test moves; A joined at once, B in A's window. */
  async function roomWithTrailingFlush() {
    const tableName = await faults.target.table();
    let now = Date.now();
    const clock = (): Date => new Date(now);
    const messenger = new RecordingMessenger();
    const fanOut = new InProcessFanOut(clock);
    const service = newChatService({
      connections: new DynamoDbConnectionRepository(faults.client, { tableName, now: clock }),
      history: new InMemoryMessageHistory(),
      presence: new DynamoDbPresenceLog(faults.client, { tableName, now: clock }),
      fanOutQueue: fanOut,
      presenceWindowMs: 1000,
      messenger,
      concurrency: 4,
      now: clock,
    });
    fanOut.attach(service);
    await service.connect('A', { room: 'hall' });
    await service.connect('B', { room: 'hall' });
    const [scheduled] = fanOut.queue.pending();
    if (scheduled?.job.kind !== 'presence') throw new Error('no trailing flush was scheduled');
    return {
      service,
      job: scheduled.job,
      advance: async (ms: number) => {
        now += ms;
        await fanOut.runDue();
      },
      toA: () =>
        messenger
          .framesTo('A')
          .filter((f: ServerFrame) => f.type === 'presence' || f.type === 'presence_batch')
          .map(summary),
    };
  }

  it('sends the changes of a trailing flush whose start was applied, its answer lost and the write replayed', async () => {
    const room = await roomWithTrailingFlush();

    faults.proxy.failNext('UpdateItem room#', 'dropAfter');
    await room.advance(1000);

    expect(room.toA()).toEqual(['presence join hall A', 'presence join hall B']);
  });

  it('sends the changes of a trailing flush whose read of them failed, when its job is delivered again', async () => {
    const room = await roomWithTrailingFlush();
    failForGood('Query presence#');
    const failed = await room.advance(1000).catch((error: unknown) => error);

    await room.service.flushPresence(room.job);

    expect({ failed: failed instanceof Error, toA: room.toA() }).toEqual({
      failed: true,
      toA: ['presence join hall A', 'presence join hall B'],
    });
  });
});
