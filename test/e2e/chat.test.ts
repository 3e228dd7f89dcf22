import { describe, expect, it } from '@jest/globals';
import { ofType } from '../support/chat-client.ts';
import { stackPerFile } from '../support/stack-per-file.ts';
import { waitUntil } from '../support/wait.ts';

describe('the local stack, through real WebSocket clients', () => {
  const local = stackPerFile();
  const connect = () => local.connect();

  it('stores a connection on connect and removes it when the client closes', async () => {
    const client = await connect();
    const id = await client.whoAmI();
    expect(await local.stack.table.connectionIds()).toContain(id);

    await client.close();
    await waitUntil(`${id} to leave the table`, async () => !(await local.stack.table.connectionIds()).includes(id));
    expect(await local.stack.table.connectionIds()).not.toContain(id);
  });

  it("answers a ping with a pong carrying the caller's own connection id", async () => {
    const client = await connect();
    const id = await client.whoAmI();

    client.send({ action: 'ping' });

    const [pong] = await client.waitFor(ofType('pong'));
    expect(pong).toEqual({ type: 'pong', connectionId: id });
  });

  it('echoes an echo action to its sender only', async () => {
    const [alice, bob] = [await connect(), await connect()];

    alice.send({ action: 'echo', text: 'just me' });

    const [echo] = await alice.waitFor(ofType('echo'));
    expect(echo).toMatchObject({ type: 'echo', text: 'just me' });
    // A message alice sends after her echo reached her: bob must hear it, and nothing before it but the room's
    // presence (which tells him who joined, whenever the room's presence window ends).
    alice.send('after the echo');
    const [marker] = await bob.waitFor((f) => f.type === 'message' && f['text'] === 'after the echo');
    expect(bob.received.filter((f) => !f.type.startsWith('presence'))).toEqual([marker]);
  });

  it('delivers every broadcast to every client, the sender included', async () => {
    const group = [await connect(), await connect(), await connect(), await connect()];
    const texts = ['one', 'two', 'three', 'four', 'five', 'six'];

    texts.forEach((text, i) => group[i % group.length]?.send(text));

    for (const client of group) {
      const messages = await client.waitFor(ofType('message'), texts.length);
      expect(messages.map((m) => m['text']).sort()).toEqual([...texts].sort());
    }
    // Message ids only: the lobby's presence frames, which carry none, may come at any point of the test.
    const ids = new Set(group.flatMap((c) => c.received.filter(ofType('message')).map((m) => m['id'])));
    expect(ids.size).toBe(texts.length);
  });

  it('accepts the AWS sample client frame {"action":"sendmessage","data":...}', async () => {
    const [alice, bob] = [await connect(), await connect()];

    alice.send({ action: 'sendmessage', data: 'hello from the sample client' });

    const [message] = await bob.waitFor(ofType('message'));
    expect(message).toMatchObject({ text: 'hello from the sample client', from: await alice.whoAmI() });
  });

  it('takes a stale connection row out of the room during the next broadcast while everyone else still receives it', async () => {
    const [alice, bob, carol] = [await connect(), await connect(), await connect()];
    const { table } = local.stack;
    await table.plant('stale-connection-id');
    expect(await table.roomMembers('lobby')).toContain('stale-connection-id');

    alice.send('is anyone there?');

    for (const client of [alice, bob, carol]) {
      const [message] = await client.waitFor(ofType('message'));
      expect(message).toMatchObject({ text: 'is anyone there?' });
    }
    await waitUntil(
      'the stale row to leave the lobby',
      async () => !(await table.roomMembers('lobby')).includes('stale-connection-id'),
    );
    const stored = await table.roomMembers('lobby');
    expect(stored).not.toContain('stale-connection-id');
    for (const client of [alice, bob, carol]) expect(stored).toContain(await client.whoAmI());
  });

  it('answers each bad frame with an error frame to its sender only and changes nothing else', async () => {
    const [mallory, bob] = [await connect(), await connect()];
    const before = await local.stack.table.connectionIds();
    const bad: Array<[string, string]> = [
      ['{"action":"sendmessage","data":', 'invalid_json'],
      ['{"action":"teleport","text":"x"}', 'unknown_action'],
      ['{"action":"sendmessage","data":42}', 'invalid_frame'],
      ['{"action":"sendmessage","data":"   "}', 'empty_message'],
      [JSON.stringify({ action: 'sendmessage', data: 'x'.repeat(5000) }), 'message_too_large'],
      ['y'.repeat(20_000), 'frame_too_large'],
    ];

    for (const [frame, code] of bad) {
      mallory.sendOffContract(frame);
      const [error] = await mallory.waitFor((f) => f.type === 'error' && f['code'] === code);
      expect(Object.keys(error ?? {}).sort()).toEqual(['code', 'message', 'type']);
      expect(String(error?.['message'])).not.toMatch(/\n\s+at /);
    }

    // A message mallory sends after every refusal reached her: bob hears it, and nothing before it but the room's
    // presence.
    mallory.send('still here');
    const [marker] = await bob.waitFor((f) => f.type === 'message' && f['text'] === 'still here');
    expect(bob.received.filter((f) => !f.type.startsWith('presence'))).toEqual([marker]);
    expect(await local.stack.table.connectionIds()).toEqual(before);
  });
});
