import { describe, expect, it } from '@jest/globals';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryPresenceLog } from '../../src/adapters/in-memory-presence-log.ts';
import { InMemoryShardProgress } from '../../src/adapters/in-memory-shard-progress.ts';
import type { ShardJob } from '../../src/domain/fan-out-queue.ts';
import type { ShardProgress } from '../../src/domain/shard-progress.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { InProcessFanOut } from '../support/in-process-fan-out.ts';
import { atT0, liveRow, serviceOver } from '../support/service-fixtures.ts';

const SHARD_SIZE = 3;

/** A room of `size` members over 4 shards, fanned out by shard jobs above {@link SHARD_SIZE}. */
async function bigRoom(size: number, options: { runAtOnce?: boolean; shardProgress?: ShardProgress } = {}) {
  const presence = new InMemoryPresenceLog();
  const connections = new InMemoryConnectionRepository({ now: atT0, shards: 4, presence });
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
  const service = serviceOver(connections, messenger, {
    presence,
    fanOut,
    fanOutShardSize: SHARD_SIZE,
    ...(options.shardProgress !== undefined ? { shardProgress: options.shardProgress } : {}),
  });
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

  it("hands a backend service's published message to shard jobs as a member's", async () => {
    const room = await bigRoom(10);

    const { report } = await room.service.publish('hall', 'to everyone', { id: 'caller', name: 'Deploys' });

    expect({
      report: { shards: report.shards, recipients: report.recipients },
      jobs: room.fanOut.enqueued.length,
      sent: room.messenger.sent.length,
    }).toEqual({ report: { shards: 4, recipients: 0 }, jobs: 4, sent: 0 });
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
      page: 0,
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

  it('queues the same next page when a job that queued it runs again, so no later page is delivered twice', async () => {
    const recorded = new InMemoryShardProgress();
    let failCompletes = 1;
    const progress: ShardProgress = {
      isComplete: (key) => recorded.isComplete(key),
      complete: (key) => (failCompletes-- > 0 ? Promise.reject(new Error('throttled')) : recorded.complete(key)),
      recordCursor: (key, after) => recorded.recordCursor(key, after),
    };
    const room = await bigRoom(60, { shardProgress: progress });
    await room.service.post('m00', 'once per member');
    const first = room.fanOut.queue.takeDue().find((job) => job.kind === 'shard' && job.shard === 0);
    if (first?.kind !== 'shard') throw new Error('expected the job of shard 0');
    const members: string[] = [];
    for (let after: string | undefined, more = true; more;) {
      const page = await room.connections.listShard('hall', 0, SHARD_SIZE, after);
      members.push(...page.ids);
      after = page.next;
      more = after !== undefined;
    }
    // The first member is found gone and retired, so the rerun's page is not the first run's: it ends one later.
    const [gone] = members;
    if (gone === undefined || members.length <= 3 * SHARD_SIZE) throw new Error('shard 0 holds too few pages');
    room.messenger.on(gone, 'gone');

    await expect(room.service.deliverShard(first)).rejects.toThrow('throttled');
    await room.service.deliverShard(first);
    await room.fanOut.runDue();

    const laterPages = members.slice(SHARD_SIZE + 1);
    expect(laterPages.map((id) => [id, messagesTo(room.messenger, id)])).toEqual(laterPages.map((id) => [id, 1]));
  });

  it('finishes the fan-out of a post whose shard jobs were not all queued when it is resent, as the same message', async () => {
    const room = await bigRoom(10);
    const enqueue = room.fanOut.enqueue.bind(room.fanOut);
    let calls = 0;
    room.fanOut.enqueue = (job, delayMs) =>
      (calls += 1) === 3 ? Promise.reject(new Error('queue unavailable')) : enqueue(job, delayMs);

    await expect(room.service.post('m00', 'all or nothing', 'c-1')).rejects.toThrow('queue unavailable');
    const { message } = await room.service.post('m00', 'all or nothing', 'c-1');
    await room.fanOut.runDue();

    const received = (id: string): string[] =>
      room.messenger.framesTo(id).flatMap((f) => (f.type === 'message' ? [f.id] : []));
    expect({
      received: room.ids.map((id) => [id, received(id)]),
      acks: room.messenger.framesTo('m00').flatMap((f) => (f.type === 'ack' ? [[f.id, f.shards]] : [])),
    }).toEqual({
      received: room.ids.map((id) => [id, [message.id]]),
      acks: [[message.id, 4]],
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
