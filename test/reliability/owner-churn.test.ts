import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ChatClient } from '../support/chat-client.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { recordFigures } from '../support/reliability-figures.ts';

const BUDGET = 30;
const WINDOW_MS = 10_000;
const CHURN_MS = 14_000;
const FRAMES_PER_CONNECTION = 40;

/** The most of `times` (ms) within any `window` ms. */
function mostInAnyWindow(times: readonly number[], window: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let first = 0, last = 0; last < sorted.length; last += 1) {
    while ((sorted[last] ?? 0) - (sorted[first] ?? 0) >= window) first += 1;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

/**
 * One address that reconnects as fast as it can and floods each connection with more than its own budget, for longer
 * than a window, while an observer in the room counts what reaches it. Every client of the local stack comes from
 * 127.0.0.1: one owner.
 */
async function churn(stack: TestStack, room: string) {
  const observer = await ChatClient.connect(`${stack.websocketUrl}?room=${room}`);
  const connects = { admitted: 0, refused: 0 };
  const started = Date.now();
  try {
    while (Date.now() - started < CHURN_MS) {
      let flooder: ChatClient;
      try {
        flooder = await ChatClient.connect(`${stack.websocketUrl}?room=${room}`);
        connects.admitted += 1;
      } catch {
        connects.refused += 1;
        // A bounded rate on loopback: a refused handshake is still an invocation of the emulator.
        await sleep(50);
        continue;
      }
      for (let i = 0; i < FRAMES_PER_CONNECTION; i += 1) flooder.send(`churn ${connects.admitted}.${i}`);
      await sleep(100);
      await flooder.close();
    }
    // What was admitted has been delivered once the emulator is quiet.
    await sleep(2_000);
  } finally {
    await observer.close();
  }
  const heardAt = observer.received
    .filter((f) => f.type === 'message' && String(f['text']).startsWith('churn '))
    // When the chat accepted each: the time its budget was spent.
    .map((f) => Date.parse(String(f['sentAt'])));
  return { connects, heard: heardAt.length, mostIn10s: mostInAnyWindow(heardAt, WINDOW_MS) };
}

describe("one owner reconnecting and flooding the local stack, with and without the owners' budget", () => {
  let stack: TestStack | undefined;

  afterAll(async () => {
    await stack?.stop();
  });

  it(`admits at most twice its budget (${2 * BUDGET}) over any 10 s, however it reconnects; unbudgeted, far more`, async () => {
    const limits = { RATE_LIMIT_FRAMES: String(BUDGET), RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_MS / 1000) };
    stack = await startTestStack({ ...limits, OWNER_RATE_LIMIT_FRAMES: '0' });
    const unbudgeted = await churn(stack, 'churn-free');
    await stack.stop();
    stack = await startTestStack({ ...limits, OWNER_RATE_LIMIT_FRAMES: String(BUDGET) });
    const budgeted = await churn(stack, 'churn-owned');

    await recordFigures('owner-churn', {
      budget: BUDGET,
      seconds: CHURN_MS / 1000,
      unbudgetedConnects: unbudgeted.connects.admitted,
      unbudgetedHeard: unbudgeted.heard,
      unbudgetedMostIn10s: unbudgeted.mostIn10s,
      budgetedConnects: budgeted.connects.admitted,
      budgetedConnectsRefused: budgeted.connects.refused,
      budgetedHeard: budgeted.heard,
      budgetedMostIn10s: budgeted.mostIn10s,
    });

    expect(unbudgeted.mostIn10s).toBeGreaterThan(2 * BUDGET);
    expect(budgeted.mostIn10s).toBeLessThanOrEqual(2 * BUDGET);
    expect(budgeted.connects.refused).toBeGreaterThan(0);
    // Spent, not shut: each connect spends 5 units of what refills, and the owner's frames get the rest.
    expect(budgeted.heard).toBeGreaterThan(0);
  }, 120_000);
});
