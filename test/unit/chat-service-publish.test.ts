import { describe, expect, it } from '@jest/globals';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import type { ServerFrame } from '../../src/domain/frames.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { chatWith, repositoryWith, serviceOver } from '../support/service-fixtures.ts';

const PUBLISHER = { id: 'arn:aws:sts::123456789012:assumed-role/deployer/ci', name: 'Deploys' };

const messages = (frames: readonly ServerFrame[]) => frames.filter((frame) => frame.type === 'message');

describe('ChatService.publish, a message from a backend service', () => {
  it('stores the message in the room with its seq and sends it to every member, from the publisher', async () => {
    const messenger = new RecordingMessenger();
    const history = new InMemoryMessageHistory();
    const service = serviceOver(await repositoryWith(['A', 'B'], 1000, 'kitchen'), messenger, { history });

    const { message, report } = await service.publish('kitchen', 'Dinner is ready', PUBLISHER);

    expect({
      message,
      kept: await history.recent('kitchen'),
      toA: messages(messenger.framesTo('A')),
      toB: messages(messenger.framesTo('B')),
      report: { recipients: report.recipients, delivered: report.delivered },
    }).toEqual({
      message: {
        type: 'message',
        id: 'msg-1',
        seq: 1,
        room: 'kitchen',
        from: 'publisher:Deploys',
        name: 'Deploys',
        text: 'Dinner is ready',
        sentAt: '2030-01-01T00:00:00.000Z',
      },
      kept: [message],
      toA: [message],
      toB: [message],
      report: { recipients: 2, delivered: 2 },
    });
  });

  it("never shows the publisher's identity to members", async () => {
    const messenger = new RecordingMessenger();
    const service = serviceOver(await repositoryWith(['A']), messenger);

    await service.publish('lobby', 'hello', PUBLISHER, 'deploy-1');

    expect(JSON.stringify(messenger.sent)).not.toContain(PUBLISHER.id);
  });

  it('sends nothing to any connection but the members: no ack goes anywhere', async () => {
    const messenger = new RecordingMessenger();
    const service = serviceOver(await repositoryWith(['A', 'B']), messenger);

    await service.publish('lobby', 'hello', PUBLISHER, 'deploy-1');

    expect(messenger.sent.map((sent) => `${sent.connectionId}:${sent.frame.type}`).sort()).toEqual([
      'A:message',
      'B:message',
    ]);
  });

  it('takes a retry with the same clientMsgId for the message stored first: stored once, sent again', async () => {
    const messenger = new RecordingMessenger();
    const history = new InMemoryMessageHistory();
    const service = serviceOver(await repositoryWith(['A']), messenger, { history });

    const first = await service.publish('lobby', 'Deploy finished', PUBLISHER, 'deploy-42');
    const retry = await service.publish('lobby', 'Deploy finished', PUBLISHER, 'deploy-42');

    expect({
      kept: (await history.recent('lobby')).map((m) => m.id),
      retried: retry.message,
      toA: messages(messenger.framesTo('A')).map((m) => m.id),
    }).toEqual({ kept: [first.message.id], retried: first.message, toA: [first.message.id, first.message.id] });
  });

  it('keeps apart two publishers that chose the same clientMsgId, and a member that chose it too', async () => {
    const history = new InMemoryMessageHistory();
    const service = serviceOver(await repositoryWith(['A']), new RecordingMessenger(), { history });

    await service.publish('lobby', 'one', PUBLISHER, 'same');
    await service.publish('lobby', 'two', { id: 'arn:aws:iam::123456789012:user/other', name: 'Deploys' }, 'same');
    await service.post('A', 'three', 'same');

    expect((await history.recent('lobby')).map((m) => m.text)).toEqual(['one', 'two', 'three']);
  });

  it('stores a message for a room nobody is in, delivered to no one and replayed to whoever joins it', async () => {
    const messenger = new RecordingMessenger();
    const service = serviceOver(await repositoryWith(['A']), messenger);

    const { report } = await service.publish('empty', 'anyone?', PUBLISHER);
    await service.join('A', 'empty');

    expect({
      recipients: report.recipients,
      replayed: messages(messenger.framesTo('A')).map((m) => m.text),
    }).toEqual({ recipients: 0, replayed: ['anyone?'] });
  });
});

describe('ChatService.describeRoom and recentMessages', () => {
  it("tells a room's member count and the seq of its newest kept message", async () => {
    const { service } = await chatWith({ kitchen: ['A', 'B'] });
    await service.post('A', 'one');
    await service.post('B', 'two');

    expect(await service.describeRoom('kitchen')).toEqual({ room: 'kitchen', members: 2, latestSeq: 2 });
  });

  it('describes a room nobody ever used as empty', async () => {
    const service = serviceOver(await repositoryWith([]), new RecordingMessenger());

    expect(await service.describeRoom('nowhere')).toEqual({ room: 'nowhere', members: 0, latestSeq: 0 });
  });

  it('lists the kept messages numbered above afterSeq, oldest first', async () => {
    const service = serviceOver(await repositoryWith(['A']), new RecordingMessenger());
    for (const text of ['one', 'two', 'three']) await service.post('A', text);

    expect((await service.recentMessages('lobby', 1)).map((m) => [m.seq, m.text])).toEqual([
      [2, 'two'],
      [3, 'three'],
    ]);
  });
});
