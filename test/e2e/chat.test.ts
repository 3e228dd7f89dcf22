import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ChatClient, ofType, sleep } from '../support/chat-client.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

describe('the local stack, through real WebSocket clients', () => {
  let stack: TestStack;
  const clients: ChatClient[] = [];

  async function connect(): Promise<ChatClient> {
    const client = await ChatClient.connect(stack.websocketUrl);
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    stack = await startTestStack();
  }, 90_000);

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    // $disconnect runs after the socket closes; let it finish before the next test counts rows.
    await sleep(300);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('stores a connection on connect and removes it when the client closes', async () => {
    const client = await connect();
    const id = await client.whoAmI();
    expect(await stack.storedConnectionIds()).toContain(id);

    await client.close();
    await waitUntil(async () => !(await stack.storedConnectionIds()).includes(id));
    expect(await stack.storedConnectionIds()).not.toContain(id);
  });

  it('answers a ping with a pong carrying the caller\'s own connection id', async () => {
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
    await sleep(300);
    expect(bob.received).toEqual([]);
  });

  it('delivers every broadcast to every client, the sender included', async () => {
    const group = [await connect(), await connect(), await connect(), await connect()];
    const texts = ['one', 'two', 'three', 'four', 'five', 'six'];

    texts.forEach((text, i) => group[i % group.length]?.send(text));

    for (const client of group) {
      const messages = await client.waitFor(ofType('message'), texts.length);
      expect(messages.map((m) => m['text']).sort()).toEqual([...texts].sort());
    }
    const ids = new Set(group.flatMap((c) => c.received.map((m) => m['id'])));
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
    await stack.insertConnectionRow('stale-connection-id');
    expect(await stack.roomMembers()).toContain('stale-connection-id');

    alice.send('is anyone there?');

    for (const client of [alice, bob, carol]) {
      const [message] = await client.waitFor(ofType('message'));
      expect(message).toMatchObject({ text: 'is anyone there?' });
    }
    await waitUntil(async () => !(await stack.roomMembers()).includes('stale-connection-id'));
    const stored = await stack.roomMembers();
    expect(stored).not.toContain('stale-connection-id');
    for (const client of [alice, bob, carol]) expect(stored).toContain(await client.whoAmI());
  });

  it('answers each bad frame with an error frame to its sender only and changes nothing else', async () => {
    const [mallory, bob] = [await connect(), await connect()];
    const before = await stack.storedConnectionIds();
    const bad: Array<[string, string]> = [
      ['{"action":"sendmessage","data":', 'invalid_json'],
      ['{"action":"teleport","text":"x"}', 'unknown_action'],
      ['{"action":"sendmessage","data":42}', 'invalid_frame'],
      ['{"action":"sendmessage","data":"   "}', 'empty_message'],
      [JSON.stringify({ action: 'sendmessage', data: 'x'.repeat(5000) }), 'message_too_large'],
      ['y'.repeat(20_000), 'frame_too_large'],
    ];

    for (const [frame, code] of bad) {
      mallory.send(frame);
      const [error] = await mallory.waitFor((f) => f.type === 'error' && f['code'] === code);
      expect(Object.keys(error ?? {}).sort()).toEqual(['code', 'message', 'type']);
      expect(String(error?.['message'])).not.toMatch(/\n\s+at /);
    }

    await sleep(300);
    expect(bob.received).toEqual([]);
    expect(await stack.storedConnectionIds()).toEqual(before);
    mallory.send('still here');
    const [message] = await bob.waitFor(ofType('message'));
    expect(message).toMatchObject({ text: 'still here' });
  });
});

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(100);
  }
}
