import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { inPool } from '../support/pool.ts';
import { recordFigures, tally } from '../support/reliability-figures.ts';
import { seededRandom } from '../support/seeded-random.ts';
import { emulatorPid, peakRssMb, type StackTable } from '../support/stack-table.ts';
import { WireClient } from '../support/wire-client.ts';

const CLIENTS = 1_000;
/** Every tenth client stays connected to the end; the others come and go. */
const SURVIVOR_EVERY = 10;
/** Every fifth client that comes and goes sends a message while it is open. */
const SENDER_EVERY = 5;
const ROOMS = 20;
const CONNECTS_IN_FLIGHT = 200;
/** Client i starts no earlier than i × this: 1,000 clients spread over about 10 s. */
const SPACING_MS = 10;
const MAX_LIFE_MS = 1_000;
const QUIET_TIMEOUT_MS = 30_000;

describe('a storm of 1,000 WebSocket clients connecting and disconnecting through the local stack', () => {
  let stack: TestStack;
  let table: StackTable;
  const survivors = new Map<string, WireClient>();
  let connectFailures = 0;
  const failureReasons: string[] = [];
  let messagesSent = 0;
  let stormMs = 0;
  let quietAfterMs: number | undefined;
  let emptyAfterMs: number | undefined;
  let peakRss: number | undefined;
  let survivorRooms = new Map<string, string>();

  /** Polls the table until `done` holds for it, at most {@link QUIET_TIMEOUT_MS}; returns how long that took. */
  async function untilTable(done: (ids: string[]) => boolean): Promise<number | undefined> {
    const start = Date.now();
    while (Date.now() - start < QUIET_TIMEOUT_MS) {
      if (done(await table.connectionIds())) return Date.now() - start;
      await sleep(250);
    }
    return undefined;
  }

  beforeAll(async () => {
    stack = await startTestStack({ RATE_LIMIT_FRAMES: '100000', RATE_LIMIT_WINDOW_SECONDS: '1' });
    table = stack.table;
    const random = seededRandom(1_000);
    const lives = Array.from({ length: CLIENTS }, () => Math.floor(random() * MAX_LIFE_MS));
    const started = Date.now();

    await inPool(
      Array.from({ length: CLIENTS }, (_, i) => i),
      CONNECTS_IN_FLIGHT,
      async (i) => {
        await sleep(Math.max(0, started + i * SPACING_MS - Date.now()));
        const room = `storm-${i % ROOMS}`;
        let client: WireClient;
        try {
          client = await WireClient.connect(`${stack.websocketUrl}/?room=${room}&name=Storm${i}`, 15_000);
        } catch (error) {
          connectFailures += 1;
          failureReasons.push(
            error instanceof Error ? error.message.replace(/ws:\/\/\S+/, 'the stack').slice(0, 80) : String(error),
          );
          return;
        }
        if (i % SURVIVOR_EVERY === 0) {
          client.sendText('{"action":"ping"}');
          const pong = await client.waitFor((frame) => 'type' in frame && frame['type'] === 'pong', 15_000);
          const id = pong !== undefined && 'connectionId' in pong ? String(pong['connectionId']) : `unknown-${i}`;
          survivors.set(id, client);
          survivorRooms.set(id, room);
          return;
        }
        if (i % SENDER_EVERY === 1) {
          client.sendText(`storm message ${i}`);
          messagesSent += 1;
        }
        await sleep(lives[i] ?? 0);
        await client.close();
      },
    );
    stormMs = Date.now() - started;
    const expected = JSON.stringify([...survivors.keys()].sort());
    quietAfterMs = await untilTable((ids) => JSON.stringify(ids) === expected);
    survivorRooms = new Map([...survivorRooms].sort());
  }, 180_000);

  afterAll(async () => {
    peakRss = peakRssMb(emulatorPid(stack.websocketUrl));
    await recordFigures('connection-storm', {
      clients: CLIENTS,
      connectFailures,
      connectFailureReasons: tally(failureReasons, (reason) => reason),
      messagesSent,
      keptOpen: survivors.size,
      stormSeconds: Math.round(stormMs / 100) / 10,
      quietAfterSeconds: quietAfterMs === undefined ? 'never' : Math.round(quietAfterMs / 100) / 10,
      emptyAfterSeconds: emptyAfterMs === undefined ? 'never' : Math.round(emptyAfterMs / 100) / 10,
      emulatorPeakRssMb: peakRss ?? 'n/a',
    });
    await Promise.all([...survivors.values()].map((client) => client.close()));
    await stack?.stop();
  });

  it('connects every client', () => {
    expect({ connectFailures, survivors: survivors.size }).toEqual({
      connectFailures: 0,
      survivors: CLIENTS / SURVIVOR_EVERY,
    });
  });

  it('holds exactly the connections still open once quiet, each in its room and still listed there', async () => {
    const items = await table.connections();
    const listed = new Map<string, string>();
    for (const room of new Set(survivorRooms.values()))
      for (const id of await table.roomMembers(room)) listed.set(id, room);

    expect({
      quiet: quietAfterMs !== undefined,
      stored: new Map(items.map((item) => [item.id, item.room])),
      listed: new Map([...listed].sort()),
    }).toEqual({
      quiet: true,
      stored: survivorRooms,
      listed: survivorRooms,
    });
  });

  it('holds no connection once every client has closed', async () => {
    await Promise.all([...survivors.values()].map((client) => client.close()));

    emptyAfterMs = await untilTable((ids) => ids.length === 0);

    expect(await table.connectionIds()).toEqual([]);
  }, 60_000);
});
