import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ChatClient } from '../support/chat-client.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { recordFigures } from '../support/reliability-figures.ts';
import { waitUntil } from '../support/wait.ts';

const CLIENTS = 150;
/** Joins, then leaves, at this many a second: the rate of the storms the issue measured. */
const PER_SECOND = 100;
const WINDOW_MS = 1000;
/** Frames still arriving this long after the last one mean the storm is not over. */
const QUIET_MS = 2500;

/**
 * A join storm and a leave storm in one room through the local stack. Presence that grows as O(N²) (one
 * fan-out per change) sends about N²/2 frames per storm; coalesced presence sends at most one frame per member
 * and window, so the bound below is a few windows of N, and it fails by far for O(N²).
 */
describe(`presence storms of ${CLIENTS} clients joining and leaving one room at ${PER_SECOND} a second`, () => {
  let stack: TestStack;
  const clients: ChatClient[] = [];
  const presenceFrames = (client: ChatClient): number =>
    client.received.filter((f) => f.type === 'presence' || f.type === 'presence_batch').length;
  const allPresenceFrames = (): number => clients.reduce((sum, client) => sum + presenceFrames(client), 0);

  async function untilQuiet(): Promise<number> {
    let last = -1;
    let stableSince = Date.now();
    const start = Date.now();
    while (Date.now() - stableSince < QUIET_MS && Date.now() - start < 60_000) {
      const now = clients.reduce((sum, client) => sum + client.received.length, 0);
      if (now !== last) {
        last = now;
        stableSince = Date.now();
      }
      await sleep(100);
    }
    return (Date.now() - start) / 1000;
  }

  beforeAll(async () => {
    stack = await startTestStack({
      RATE_LIMIT_FRAMES: '100000',
      RATE_LIMIT_WINDOW_SECONDS: '1',
      PRESENCE_WINDOW_MS: String(WINDOW_MS),
      // Every change listed in its batch, so that each stayer can be checked to hear each leave once.
      BIG_ROOM_SIZE: String(CLIENTS * 2),
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await stack?.stop();
  });

  it('costs a few windows of one delivery per member, welcomes every joiner, and tells those who stay each change once', async () => {
    const start = Date.now();
    const opening: Array<Promise<ChatClient>> = [];
    for (let i = 0; i < CLIENTS; i += 1) {
      opening.push(
        ChatClient.connect(`${stack.websocketUrl}/?room=storm&name=Storm${i}`, 30_000).then((client) => {
          client.send({ action: 'hello' });
          return client;
        }),
      );
      await sleep(Math.max(0, start + ((i + 1) * 1000) / PER_SECOND - Date.now()));
    }
    clients.push(...(await Promise.all(opening)));
    const joinSeconds = (Date.now() - start) / 1000 + (await untilQuiet());
    const joinFrames = allPresenceFrames();
    const welcomed = clients.filter((client) => client.received.some((f) => f.type === 'welcome')).length;
    const ids = await Promise.all(clients.map((client) => client.whoAmI()));

    // Half leave; the other half stays and must hear each leave exactly once.
    const [leaving, staying] = [clients.slice(0, CLIENTS / 2), clients.slice(CLIENTS / 2)];
    const before = allPresenceFrames();
    const leaveStart = Date.now();
    for (const [i, client] of leaving.entries()) {
      void client.close();
      await sleep(Math.max(0, leaveStart + ((i + 1) * 1000) / PER_SECOND - Date.now()));
    }
    const leaveSeconds = (Date.now() - leaveStart) / 1000 + (await untilQuiet());
    const leaveFrames = allPresenceFrames() - before;
    const leftIds = new Set(ids.slice(0, CLIENTS / 2));
    const leavesOf = (client: ChatClient) =>
      client.changes().filter((c) => c.event === 'leave' && leftIds.has(c.connectionId));
    // What a client shows: a change it has already applied (same member, same rev) comes again only when a flush
    // overlapped the next or ran again, and clients drop it; so each stayer must end up with every leave, once.
    const distinctLeaves = (client: ChatClient): number =>
      new Set(leavesOf(client).map((c) => `${c.connectionId} ${String(c.rev)}`)).size;
    // Not thrown: a stayer still short of a leave then fails the check below, with the figures recorded.
    await waitUntil(
      'every stayer to hear every leave',
      async () => staying.every((client) => distinctLeaves(client) >= leftIds.size),
      30_000,
    ).catch(() => undefined);
    const leavesHeard = staying.map(distinctLeaves);
    const leaveRepeats = staying.reduce((sum, client) => sum + leavesOf(client).length - distinctLeaves(client), 0);

    // One delivery per member present and window, plus the window that starts each storm.
    const windowsOf = (seconds: number): number => Math.ceil((seconds * 1000) / WINDOW_MS) + 1;
    const joinBound = CLIENTS * windowsOf(joinSeconds);
    const leaveBound = CLIENTS * windowsOf(leaveSeconds);
    await recordFigures('presence-storm', {
      clients: CLIENTS,
      joinPresenceDeliveries: joinFrames,
      joinBound,
      leavePresenceDeliveries: leaveFrames,
      leaveBound,
      quadraticWouldBe: (CLIENTS * (CLIENTS - 1)) / 2,
      welcomed,
      leavesHeard: { fewest: Math.min(...leavesHeard), most: Math.max(...leavesHeard), of: leftIds.size },
      leaveRepeats,
    });

    expect({
      welcomed,
      joinWithinBound: joinFrames <= joinBound,
      leaveWithinBound: leaveFrames <= leaveBound,
      eachLeaveHeardOnce: leavesHeard.every((count) => count === leftIds.size),
    }).toEqual({ welcomed: CLIENTS, joinWithinBound: true, leaveWithinBound: true, eachLeaveHeardOnce: true });
    // The bound is far below what one fan-out per change costs, so that this test fails for O(N²) presence.
    expect(joinBound).toBeLessThan((CLIENTS * (CLIENTS - 1)) / 2 / 3);
  });
});
