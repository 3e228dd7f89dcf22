import { describe, expect, it } from '@jest/globals';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryShardProgress } from '../../src/adapters/in-memory-shard-progress.ts';
import { RoomFanOut, type RoomFanOutOptions } from '../../src/domain/room-fan-out.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { InProcessFanOut } from '../support/in-process-fan-out.ts';
import { atT0, liveRow, sequentialIds } from '../support/service-fixtures.ts';

const frame = { type: 'pong', connectionId: 'x' } as const;

/** A fan-out over a lobby of A, B and C in 2 shards, sharded above `fanOutShardSize`, its jobs kept back. */
async function fanOutOver(options: Partial<RoomFanOutOptions> = {}) {
  const connections = new InMemoryConnectionRepository({ now: atT0, shards: 2 });
  for (const id of ['A', 'B', 'C']) await connections.save(liveRow(id));
  const messenger = new RecordingMessenger();
  const queue = new InProcessFanOut(atT0, { runAtOnce: false });
  const fanOut = new RoomFanOut({
    connections,
    messenger,
    fanOutQueue: queue,
    shardProgress: new InMemoryShardProgress(),
    concurrency: 2,
    fanOutShardSize: 3,
    now: atT0,
    newId: sequentialIds(),
    retire: (id, connectedBefore) => connections.retire(id, connectedBefore),
    ...options,
  });
  return { fanOut, messenger, queue };
}

describe('RoomFanOut', () => {
  it('sends to a room up to the shard size itself, and reports every recipient', async () => {
    const { fanOut, messenger, queue } = await fanOutOver();

    const report = await fanOut.broadcast('lobby', frame, 3);

    expect({
      report: [report.recipients, report.delivered, report.shards],
      sentTo: messenger.sent.map((s) => s.connectionId).sort(),
      queued: queue.enqueued.length,
    }).toEqual({ report: [3, 3, 0], sentTo: ['A', 'B', 'C'], queued: 0 });
  });

  it("queues a bigger room's first page of each shard, named by the fan-out id it is given, and sends nothing", async () => {
    const { fanOut, messenger, queue } = await fanOutOver();

    const report = await fanOut.broadcast('lobby', frame, 4, 'msg-9');

    expect({
      shards: report.shards,
      jobs: queue.enqueued.map(({ job }) => (job.kind === 'shard' ? [job.fanOutId, job.shard, job.page] : [])),
      sent: messenger.sent.length,
    }).toEqual({
      shards: 2,
      jobs: [
        ['msg-9', 0, 0],
        ['msg-9', 1, 0],
      ],
      sent: 0,
    });
  });

  it('refuses a shard size that is not a positive whole number', async () => {
    await expect(fanOutOver({ fanOutShardSize: 0 })).rejects.toThrow(RangeError);
  });
});
