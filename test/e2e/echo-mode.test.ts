import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ChatClient, ofType, sleep } from '../support/chat-client.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

describe('the local stack with CHAT_MODE=echo', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({ CHAT_MODE: 'echo' });
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('echoes a plain text frame to its sender and to no one else', async () => {
    const [alice, bob] = await Promise.all([ChatClient.connect(stack.websocketUrl), ChatClient.connect(stack.websocketUrl)]);
    try {
      alice.send('hello, echo');

      const [echo] = await alice.waitFor(ofType('echo'));
      expect(echo).toMatchObject({ type: 'echo', text: 'hello, echo' });
      await sleep(300);
      expect(bob.received).toEqual([]);
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  });

  it('still broadcasts an explicit sendmessage action', async () => {
    const [alice, bob] = await Promise.all([ChatClient.connect(stack.websocketUrl), ChatClient.connect(stack.websocketUrl)]);
    try {
      alice.send({ action: 'sendmessage', text: 'to everyone' });

      const [message] = await bob.waitFor(ofType('message'));
      expect(message).toMatchObject({ type: 'message', text: 'to everyone' });
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  });
});
