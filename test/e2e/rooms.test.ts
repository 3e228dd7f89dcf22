import { describe, expect, it } from '@jest/globals';
import { type ChatClient, ofType, type ReceivedFrame } from '../support/chat-client.ts';
import { stackPerFile } from '../support/stack-per-file.ts';

describe('rooms, names, presence, history and acks through the local stack', () => {
  const local = stackPerFile();

  /** Connects with the given query string and completes the handshake with `hello`. */
  async function join(query: string, after?: string): Promise<ChatClient> {
    const client = await local.connect(query);
    client.send(after === undefined ? { action: 'hello' } : { action: 'hello', after });
    await client.waitFor(ofType('welcome'));
    return client;
  }

  const messages = (client: ChatClient): ReceivedFrame[] => client.received.filter(ofType('message'));

  /**
   * The messages a client holds as the protocol tells clients to keep them: repeats dropped by `id`, ordered by
   * `seq`. A connection is a member from its $connect on, so a message whose fan-out was still listing the room
   * may reach it live before or after its welcome's replay of the same message.
   */
  const held = (client: ChatClient): unknown[] =>
    [...new Map(messages(client).map((m) => [m['id'], m])).values()]
      .sort((a, b) => Number(a['seq']) - Number(b['seq']))
      .map((m) => m['text']);

  it('keeps two rooms apart: each hears only its own messages', async () => {
    const [ann, bob] = [await join('room=red&name=Ann'), await join('room=red&name=Bob')];
    const cat = await join('room=blue&name=Cat');

    ann.send('for red only');
    cat.send('for blue only');

    await bob.waitFor((f) => f.type === 'message' && f['text'] === 'for red only');
    await cat.waitFor((f) => f.type === 'message' && f['text'] === 'for blue only');
    // A message to each room after both arrived: each hears its own, and nothing else before it.
    ann.send('red again');
    cat.send('blue again');
    await bob.waitFor((f) => f.type === 'message' && f['text'] === 'red again');
    await cat.waitFor((f) => f.type === 'message' && f['text'] === 'blue again');
    expect(messages(bob).map((m) => m['text'])).toEqual(['for red only', 'red again']);
    expect(messages(cat).map((m) => m['text'])).toEqual(['for blue only', 'blue again']);
    expect(messages(bob)[0]).toMatchObject({ room: 'red', name: 'Ann', seq: expect.any(Number) });
  });

  it('replays the room history after a rejoin, and only what came after the last id seen', async () => {
    const ann = await join('room=history&name=Ann');
    for (const text of ['one', 'two', 'three']) {
      ann.send(text);
      await ann.waitFor((f) => f.type === 'message' && f['text'] === text);
    }
    const [, second] = messages(ann);

    const newcomer = await join('room=history&name=New');
    const returning = await join('room=history&name=Back', String(second?.['id']));

    expect(newcomer.received.find(ofType('welcome'))).toMatchObject({ room: 'history', name: 'New', replay: 3 });
    await newcomer.waitFor(ofType('message'), 3);
    expect(held(newcomer)).toEqual(['one', 'two', 'three']);
    await returning.waitFor(ofType('message'));
    expect(held(returning)).toEqual(['three']);
  });

  it('replays after afterSeq, the seq below which a reconnecting client has every message', async () => {
    const ann = await join('room=afterseq&name=Ann');
    for (const text of ['one', 'two', 'three', 'four']) {
      ann.send(text);
      await ann.waitFor((f) => f.type === 'message' && f['text'] === text);
    }
    const seqOf = (text: string): number => Number(messages(ann).find((m) => m['text'] === text)?.['seq']);

    // It has one and two, and three was still in flight when it dropped, though four arrived.
    const back = await local.connect('room=afterseq&name=Back');
    back.send({ action: 'hello', afterSeq: seqOf('two') });

    const [welcome] = await back.waitFor(ofType('welcome'));
    await back.waitFor(ofType('message'), 2);
    expect({ replay: welcome?.['replay'], texts: held(back) }).toEqual({
      replay: 2,
      texts: ['three', 'four'],
    });
  });

  it('tells the room when someone joins, renames and leaves', async () => {
    const watcher = await join('room=presence&name=Watcher');
    const visitor = await join('room=presence&name=Visitor');
    const visitorId = await visitor.whoAmI();

    visitor.send({ action: 'setname', name: 'Visiting Vera' });
    await watcher.waitForChange((c) => c.event === 'rename');
    await visitor.close();
    await watcher.waitForChange((c) => c.event === 'leave');

    // As a client applies them: a change whose rev it has applied already (a flush run again) is dropped.
    const aboutVisitor = watcher
      .changes()
      .filter((c) => c.connectionId === visitorId)
      .filter((c, i, all) => all.findIndex((earlier) => earlier.rev === c.rev && earlier.event === c.event) === i);
    expect(aboutVisitor.map((c) => [c.event, c.name, c.previousName])).toEqual([
      ['join', 'Visitor', undefined],
      ['rename', 'Visiting Vera', 'Visitor'],
      ['leave', 'Visiting Vera', undefined],
    ]);
  });

  it('tells the room of a member that connects and never says hello, so no one listens unannounced', async () => {
    const watcher = await join('room=silent&name=Watcher');
    const silent = await local.connect('room=silent&name=Silent');

    const [joined] = await watcher.waitForChange((c) => c.event === 'join' && c.name === 'Silent');
    await silent.close();
    const [left] = await watcher.waitForChange((c) => c.event === 'leave' && c.name === 'Silent');

    expect([joined?.connectionId, left?.room]).toEqual([left?.connectionId, 'silent']);
  });

  it('moves a connection between rooms with join, and who lists the room', async () => {
    const [ann, bob] = [await join('room=east&name=Ann'), await join('room=west&name=Bob')];
    const annId = await ann.whoAmI();

    ann.send({ action: 'join', room: 'West' });
    await ann.waitFor((f) => f.type === 'welcome' && f['room'] === 'west');
    await bob.waitForChange((c) => c.event === 'join' && c.connectionId === annId);
    ann.send({ action: 'who' });
    const [roster] = await ann.waitFor(ofType('roster'));
    bob.send('welcome to west');

    await ann.waitFor((f) => f.type === 'message' && f['text'] === 'welcome to west');
    expect(roster?.['room']).toBe('west');
    expect((roster?.['members'] as Array<{ name: string }>).map((m) => m.name).sort()).toEqual(['Ann', 'Bob']);
  });

  it('acknowledges a message with a clientMsgId once it is stored and fanned out', async () => {
    const [ann] = [await join('room=acks&name=Ann'), await join('room=acks&name=Bob')];

    ann.send({ action: 'sendmessage', text: 'did you get it?', clientMsgId: 'c-1' });

    const [ack] = await ann.waitFor(ofType('ack'));
    const [message] = messages(ann);
    expect(ack).toEqual({
      type: 'ack',
      clientMsgId: 'c-1',
      id: message?.['id'],
      seq: message?.['seq'],
      recipients: 2,
      delivered: 2,
      gone: 0,
      failed: 0,
    });
  });

  it('lands an AWS sample client in the lobby, where it chats as before', async () => {
    const [old, modern] = await Promise.all([local.connect(), local.connect('room=lobby&name=Modern')]);

    old.send({ action: 'sendmessage', data: 'hello from 2019' });

    const [message] = await modern.waitFor(ofType('message'));
    expect(message).toMatchObject({ room: 'lobby', text: 'hello from 2019', name: expect.stringMatching(/^Guest /) });
  });

  it('refuses a handshake with an invalid room name', async () => {
    await expect(local.connect(`room=${encodeURIComponent('no spaces!')}`)).rejects.toThrow(/400/);
  });
});
