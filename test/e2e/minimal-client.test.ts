import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Frame, type Message, openChat } from '../../docs/examples/minimal-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { waitUntil } from '../support/wait.ts';

/** A chat of docs/examples/minimal-client.js, with what its handlers were given. */
function client(url: string) {
  const seen = { welcomes: [] as Frame[], acks: [] as Frame[], errors: [] as Frame[], messages: [] as Message[] };
  const chat = openChat(url, {
    onWelcome: (frame) => seen.welcomes.push(frame),
    onAck: (frame) => seen.acks.push(frame),
    onError: (frame) => seen.errors.push(frame),
    onMessages: (messages) => (seen.messages = messages),
  });
  return { chat, seen };
}

describe('the minimal browser client of docs/examples, against the local stack', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack();
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('is welcomed, sends, and shows every message once in seq order with its ack, and an error in words', async () => {
    const ann = client(`${stack.websocketUrl}?room=walk&name=Ann`);
    const bob = client(`${stack.websocketUrl}?room=walk&name=Bob`);
    try {
      await waitUntil('both welcomed', async () => ann.seen.welcomes.length > 0 && bob.seen.welcomes.length > 0);

      const sent = ['one', 'two', 'three'].map((text) => ann.chat.send(text));
      await waitUntil('both to have the three messages', async () =>
        [ann, bob].every(({ seen }) => seen.messages.length === 3),
      );
      await waitUntil('the three acks', async () => ann.seen.acks.length === 3);
      bob.chat.replay();
      ann.chat.send('   ');
      await waitUntil('the error', async () => ann.seen.errors.length === 1);
      // The replay repeated the three messages; a later message shows the repeats were dropped, not still coming.
      ann.chat.send('four');
      await waitUntil('the fourth message', async () => bob.seen.messages.length >= 4);

      const seqs = bob.chat.messages().map((message) => message.seq);
      expect({
        // In seq order, which is the order the chat accepted them in, not always the order they were sent in.
        texts: [
          ...bob.chat
            .messages()
            .slice(0, 3)
            .map((message) => message.text)
            .sort(),
          bob.chat.messages()[3]?.text,
        ],
        ordered: seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] ?? 0)),
        // Frames sent together run in invocations of their own: their acks may come in any order.
        acked: ann.seen.acks
          .slice(0, 3)
          .map((ack) => String(ack['clientMsgId']))
          .sort(),
        error: ann.seen.errors[0]?.['code'],
      }).toEqual({
        texts: ['one', 'three', 'two', 'four'],
        ordered: true,
        acked: [...sent].sort(),
        error: 'empty_message',
      });
    } finally {
      ann.chat.close();
      bob.chat.close();
    }
  });
});
