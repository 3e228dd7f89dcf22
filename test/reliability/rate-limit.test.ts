import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ChatClient, ofType } from '../support/chat-client.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { recordFigures } from '../support/reliability-figures.ts';
import { waitUntil } from '../support/wait.ts';

const BUDGET = 20;
const FLOOD = 200;

describe('a client flooding the local stack', () => {
  let stack: TestStack;

  beforeAll(async () => {
    // A window longer than the test, so that every frame of the flood falls in one window.
    stack = await startTestStack({ RATE_LIMIT_FRAMES: String(BUDGET), RATE_LIMIT_WINDOW_SECONDS: '3600' });
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('is told once that it is rate limited, its excess is dropped, and everyone else keeps chatting', async () => {
    const [flooder, bystander, talker] = await Promise.all([
      ChatClient.connect(stack.websocketUrl),
      ChatClient.connect(stack.websocketUrl),
      ChatClient.connect(stack.websocketUrl),
    ]);
    try {
      for (let i = 0; i < FLOOD; i += 1) {
        flooder.send(`flood ${i}`);
        // A bounded rate on loopback: the emulator runs every frame as its own invocation.
        if (i % 20 === 19) await sleep(50);
      }
      await flooder.waitFor(ofType('error'));
      // The budget crossed and counted: the frames after it are refused by the container without a count.
      await waitUntil('the rate limiter to count the frame that crossed the budget', async () =>
        (await stack.table.connections()).some((item) => item.framesCounted > BUDGET),
      );
      await bystander.waitFor((f) => f.type === 'message' && String(f['text']).startsWith('flood '), BUDGET);
      talker.send('still here');
      await bystander.waitFor((f) => f.type === 'message' && f['text'] === 'still here');
      // Every frame of the flood let through or refused: no flood message heard for a second.
      const heard = () =>
        bystander.received.filter((f) => f.type === 'message' && String(f['text']).startsWith('flood ')).length;
      let settled = { count: heard(), since: Date.now() };
      await waitUntil('the flood to settle', async () => {
        if (heard() !== settled.count) settled = { count: heard(), since: Date.now() };
        return Date.now() - settled.since >= 1000;
      });

      const floodHeard = bystander.received.filter(
        (f) => f.type === 'message' && String(f['text']).startsWith('flood '),
      ).length;
      const refusals = flooder.received.filter(ofType('error'));
      await recordFigures('rate-limit', {
        frames: FLOOD,
        budget: BUDGET,
        delivered: floodHeard,
        rejections: FLOOD - floodHeard,
        errorFrames: refusals.length,
      });

      expect({ floodHeard, refusals: refusals.map((f) => f['code']) }).toEqual({
        floodHeard: BUDGET,
        refusals: ['rate_limited'],
      });
    } finally {
      await Promise.all([flooder.close(), bystander.close(), talker.close()]);
    }
  });
});
