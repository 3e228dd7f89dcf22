import { describe, expect, it } from '@jest/globals';
import { ofType } from '../support/chat-client.ts';
import { stackPerFile } from '../support/stack-per-file.ts';

describe('the local stack with CHAT_MODE=echo', () => {
  const local = stackPerFile({ CHAT_MODE: 'echo' });

  it('echoes a plain text frame to its sender and to no one else', async () => {
    const [alice, bob] = await Promise.all([local.connect(), local.connect()]);

    alice.send('hello, echo');

    const [echo] = await alice.waitFor(ofType('echo'));
    expect(echo).toMatchObject({ type: 'echo', text: 'hello, echo' });
    // A broadcast alice sends after her echo reached her: bob hears it, and no chat frame before it (only
    // the room's presence, which tells him who joined).
    alice.send({ action: 'sendmessage', text: 'after the echo' });
    const [marker] = await bob.waitFor((f) => f.type === 'message' && f['text'] === 'after the echo');
    expect(bob.received.filter((f) => !f.type.startsWith('presence'))).toEqual([marker]);
  });

  it('still broadcasts an explicit sendmessage action', async () => {
    const [alice, bob] = await Promise.all([local.connect(), local.connect()]);

    alice.send({ action: 'sendmessage', text: 'to everyone' });

    const [message] = await bob.waitFor(ofType('message'));
    expect(message).toMatchObject({ type: 'message', text: 'to everyone' });
  });
});
