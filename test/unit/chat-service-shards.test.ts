import { describe, expect, it } from '@jest/globals';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryPresenceLog } from '../../src/adapters/in-memory-presence-log.ts';
import type { ShardJob } from '../../src/domain/fan-out-queue.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { InProcessFanOut } from '../support/in-process-fan-out.ts';
import { atT0, liveRow, serviceOver } from '../support/service-fixtures.ts';

const SHARD_SIZE = 3;

/** A room of `size` members over 4 shards, fanned out by shard jobs above {@link SHARD_SIZE}. */
async function bigRoom(size: number, options: { runAtOnce?: boolean } = {}) {
  const connections = new InMemoryConnectionRepository({ now: atT0, shards: 4 });
  const presence = new InMemoryPresenceLog();
  const ids = Array.from({ length: size }, (_, i) => `m${String(i).padStart(2, '0')}`);
  for (const id of ids) {
    await connections.save(liveRow(id, 'hall'));
    await presence.record('hall', { event: 'join', connectionId: id, name: id, rev: 0, at: atT0().toISOString() }, 1);
  }
  await presence.forget(
    'hall',
    (await presence.pending('hall', 1000)).map((p) => p.key),
  );
  const messenger = new RecordingMessenger();
  const fanOut = new InProcessFanOut(atT0, { runAtOnce: options.runAtOnce ?? false });
  const service = serviceOver(connections, messenger, { presence, fanOut, fanOutShardSize: SHARD_SIZE });
  return { ids, connections, messenger, fanOut, service };
}

const messagesTo = (messenger: RecordingMessenger, id: string): number =>
  messenger.framesTo(id).filter((f) => f.type === 'message').length;

describe('ChatService fan-out of a room above the shard size', () => {
  it('queues one shard job per shard of the room, sends nothing itself, and says so in the ack', async () => {
    const room = await bigRoom(10);

    const { report } = await room.service.post('m00', 'to everyone', 'c-1');

    expect({
      report: { shards: report.shards, recipients: report.recipients },
      jobs: room.fanOut.enqueued.map(({ job }) => (job.kind === 'shard' ? [job.shard, job.after] : job.kind)),
      sent: room.messenger.sent.map((s) => s.frame.type),
      ack: room.messenger.framesTo('m00').find((f) => f.type === 'ack'),
    }).toEqual({
      report: { shards: 4, recipients: 0 },
      jobs: [
        [0, undefined],
        [1, undefined],
        [2, undefined],
        [3, undefined],
      ],
      sent: ['ack'],
      ack: expect.objectContaining({ shards: 4, recipients: 0, delivered: 0 }),
    });
  });

  it('delivers to every member exactly once when every shard job and the jobs they queue have run', async () => {
    const room = await bigRoom(23, { runAtOnce: true });

    await room.service.post('m00', 'to everyone');

    expect(room.ids.map((id) => messagesTo(room.messenger, id))).toEqual(room.ids.map(() => 1));
    // 23 members in 4 shards of pages of 3: more jobs than shards, each page its own.
    expect(room.fanOut.enqueued.length).toBeGreaterThan(4);
  });

  it('does nothing when a job that completed is delivered again: no page resent, no next page queued twice', async () => {
    const room = await bigRoom(30);
    await room.service.post('m00', 'twice');
    const [first] = room.fanOut.queue.takeDue();
    if (first?.kind !== 'shard') throw new Error('expected a shard job');
    // Its shard holds more than one page, so the job queues the next.
    expect((await room.connections.listShard('hall', first.shard, SHARD_SIZE)).next).toBeDefined();

    const sendsBefore = room.messenger.sent.length;
    const once = await room.service.deliverShard(first);
    const sendsOfOnce = room.messenger.sent.length - sendsBefore;
    const again = await room.service.deliverShard(first);

    expect({
      once: once?.delivered,
      again,
      sentAgain: room.messenger.sent.length - sendsBefore - sendsOfOnce,
      nextPagesQueued: room.fanOut.enqueued.filter(({ job }) => job.kind === 'shard' && job.after !== undefined).length,
    }).toEqual({ once: sendsOfOnce, again: undefined, sentAgain: 0, nextPagesQueued: 1 });
  });

  it('retires the members a shard finds gone', async () => {
    const room = await bigRoom(8);
    const job: ShardJob = {
      kind: 'shard',
      fanOutId: 'f-1',
      room: 'hall',
      shard: 0,
      frame: { type: 'pong', connectionId: 'x' },
    };
    const firstPage = await room.connections.listShard('hall', 0, SHARD_SIZE);
    const gone = firstPage.ids[0];
    if (gone === undefined) throw new Error('shard 0 is empty');
    room.messenger.on(gone, 'gone');

    const report = await room.service.deliverShard(job);

    expect({
      gone: report?.gone,
      removed: report?.removed,
      stillListed: (await room.connections.get(gone))?.id,
    }).toEqual({ gone: 1, removed: 1, stillListed: undefined });
  });

  it('runs a job that failed before it completed again, sending its page again', async () => {
    const room = await bigRoom(30);
    await room.service.post('m00', 'retried');
    const [first] = room.fanOut.queue.takeDue();
    if (first?.kind !== 'shard') throw new Error('expected a shard job');
    const enqueue = room.fanOut.enqueue.bind(room.fanOut);
    room.fanOut.enqueue = () => Promise.reject(new Error('queue unavailable'));
    const sendsBefore = room.messenger.sent.length;

    await expect(room.service.deliverShard(first)).rejects.toThrow('queue unavailable');
    const sentByFailed = room.messenger.sent.length - sendsBefore;
    room.fanOut.enqueue = enqueue;
    const retried = await room.service.deliverShard(first);

    expect({ sentByFailed, retriedDelivered: retried?.delivered }).toEqual({
      sentByFailed: SHARD_SIZE,
      retriedDelivered: SHARD_SIZE,
    });
  });

  it('keeps a room at the shard size on the inline path', async () => {
    const room = await bigRoom(SHARD_SIZE);

    const { report } = await room.service.post('m00', 'small');

    expect({ shards: report.shards, delivered: report.delivered, jobs: room.fanOut.enqueued.length }).toEqual({
      shards: 0,
      delivered: SHARD_SIZE,
      jobs: 0,
    });
  });

  it("fans a big room's presence out by shards too", async () => {
    const room = await bigRoom(10, { runAtOnce: true });

    await room.service.rename('m05', 'Five');

    const told = room.ids.filter((id) => room.messenger.framesTo(id).some((f) => f.type.startsWith('presence')));
    expect({
      told: told.length,
      shardJobs: room.fanOut.enqueued.filter(({ job }) => job.kind === 'shard').length,
    }).toEqual({
      told: 10,
      shardJobs: expect.any(Number),
    });
    expect(room.fanOut.enqueued.filter(({ job }) => job.kind === 'shard').length).toBeGreaterThanOrEqual(4);
  });
});
