/**
 * The presence storms of issue 13 through the local stack (dynalite, serverless-offline in process, the local
 * queue and its worker): N clients join one room sending hello at a fixed rate, then close at that rate. For
 * each storm: CPU seconds of the emulator's process (which runs every handler), presence deliveries, welcomes.
 * Three variants in the same run: the configured window (PRESENCE_WINDOW_MS=1000), 0 (every change announced on
 * its own, as before coalescing), and `floor`: bench/storm-floor's service under the same emulator, the least a
 * chat does per client (AWS's simple sample: $connect PutItem, one PostToConnection answering the hello,
 * $disconnect DeleteItem; no presence, history or rate limit). What the chat costs above the floor is its own.
 * Loopback only, bounded in time.
 *
 *   node bench/presence-storm.ts [--clients 500] [--rate 100] [--windows 1000,0,floor]
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { join } from 'node:path';
import { LOCAL_TABLE, projectRoot, startStackOnFreePorts } from '../scripts/local-stack.ts';
import { cpuSecondsOf, emulatorPid } from './e2e.ts';
import { formatInt, markdownTable } from './stats.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '500' },
    rate: { type: 'string', default: '100' },
    windows: { type: 'string', default: '1000,0,floor' },
  },
});
const CLIENTS = Number(values.clients);
const RATE = Number(values.rate);
/** A presence window in milliseconds, or the floor service. */
type Variant = number | 'floor';
const WINDOWS: Variant[] = values.windows.split(',').map((w) => (w === 'floor' ? 'floor' : Number(w)));
/** A storm is over once no client has received a frame for this long (or after QUIET_CAP_MS). */
const QUIET_MS = 3000;
const QUIET_CAP_MS = 120_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Client {
  socket: WebSocket;
  welcomed: boolean;
  errors: number;
  presenceFrames: number;
  changes: number;
}

const counters = { lastFrameAt: performance.now(), sends: 0 };
/** Error frames by code, over the whole run. */
const errorCodes = new Map<string, number>();

/**
 * Counts the stack's presence sends from its own logs: every fan-out logs a report whose `recipients` are
 * the PostToConnection calls it made (the frames a closing client never received included).
 */
function countSends(line: string): void {
  if (!line.includes('"fan-out"')) return;
  const start = line.indexOf('{');
  if (start < 0) return;
  try {
    const entry = JSON.parse(line.slice(start)) as { message?: unknown; recipients?: unknown };
    if (entry.message === 'fan-out' && typeof entry.recipients === 'number') counters.sends += entry.recipients;
  } catch {
    // A line that only mentions the word.
  }
}

function openClient(url: string): Promise<Client | undefined> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    const client: Client = { socket, welcomed: false, errors: 0, presenceFrames: 0, changes: 0 };
    const timer = setTimeout(() => {
      socket.terminate();
      resolve(undefined);
    }, 30_000);
    socket.on('message', (data) => {
      counters.lastFrameAt = performance.now();
      const frame = JSON.parse(data.toString()) as { type?: string; changes?: unknown[] };
      if (frame.type === 'welcome') client.welcomed = true;
      else if (frame.type === 'error') {
        client.errors += 1;
        const code = (frame as { code?: unknown }).code;
        errorCodes.set(String(code), (errorCodes.get(String(code)) ?? 0) + 1);
      } else if (frame.type === 'presence') {
        client.presenceFrames += 1;
        client.changes += 1;
      } else if (frame.type === 'presence_batch') {
        client.presenceFrames += 1;
        client.changes += frame.changes?.length ?? 0;
      }
    });
    socket.once('open', () => {
      clearTimeout(timer);
      socket.send(JSON.stringify({ action: 'hello' }));
      resolve(client);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/**
 * Waits until the stack is idle: no frame for {@link QUIET_MS} and under 5 % of a CPU above `idleRate` (what the
 * idle emulator burns a second: its queue pollers) used over the last second (its handlers may still be working
 * through a backlog that sends nothing yet). Returns the seconds from the call until the last frame or busy second.
 */
async function untilQuiet(pid: number, idleRate: number): Promise<number> {
  const start = performance.now();
  const samples: Array<{ at: number; cpu: number }> = [{ at: start, cpu: cpuSecondsOf(pid) }];
  let lastBusy = start;
  for (;;) {
    await sleep(250);
    const now = performance.now();
    samples.push({ at: now, cpu: cpuSecondsOf(pid) });
    const second = samples.find((sample) => now - sample.at <= 1000) ?? samples[0];
    const busy =
      second !== undefined && (samples.at(-1)?.cpu ?? 0) - second.cpu > (idleRate + 0.05) * ((now - second.at) / 1000);
    if (busy) lastBusy = now;
    const last = Math.max(lastBusy, counters.lastFrameAt);
    if ((now - last >= QUIET_MS && now - start >= 1000) || now - start >= QUIET_CAP_MS) return (last - start) / 1000;
  }
}

interface StormRow {
  readonly window: Variant;
  readonly storm: 'join' | 'leave';
  readonly clients: number;
  readonly cpuSeconds: number;
  readonly busyAfterSeconds: number;
  readonly presenceDeliveries: number;
  readonly presenceSends: number;
  readonly welcomed: number;
  readonly errors: number;
}

async function storms(window: Variant): Promise<StormRow[]> {
  const stack = await startStackOnFreePorts(
    window === 'floor'
      ? {
          buildFolder: '.esbuild/storm-floor',
          serviceFolder: join(projectRoot, 'bench', 'storm-floor'),
          // The floor's service runs without the local IAM plugin, so no policy is ever written for the stack to load.
          handlerEnv: { FLOOR_TABLE: LOCAL_TABLE, CHAT_LOCAL_IAM: 'off' },
        }
      : {
          buildFolder: `.esbuild/storm-${window}`,
          handlerEnv: { PRESENCE_WINDOW_MS: String(window) },
          log: countSends,
        },
  );
  try {
    const pid = emulatorPid(Number(new URL(stack.websocketUrl).port));
    if (pid === undefined) throw new Error('could not find the emulator process');
    const url = `${stack.websocketUrl}?room=storm`;
    // Warm every function once, outside the figures.
    const warm = await openClient(url);
    await sleep(1500);
    warm?.socket.close();
    await sleep(3000);
    // What the idle stack burns a second (the local queue's pollers), so that they do not count as a backlog.
    const idleFrom = cpuSecondsOf(pid);
    await sleep(3000);
    const idleRate = (cpuSecondsOf(pid) - idleFrom) / 3;

    const rows: StormRow[] = [];
    let cpu = cpuSecondsOf(pid);
    counters.sends = 0;
    const opening: Array<Promise<Client | undefined>> = [];
    const stormStart = performance.now();
    for (let i = 0; i < CLIENTS; i += 1) {
      opening.push(openClient(url));
      await sleep(Math.max(0, stormStart + ((i + 1) * 1000) / RATE - performance.now()));
    }
    const clients = (await Promise.all(opening)).filter((c) => c !== undefined);
    const joinBusy = await untilQuiet(pid, idleRate);
    const afterJoin = cpuSecondsOf(pid);
    const joinDeliveries = clients.reduce((sum, c) => sum + c.presenceFrames, 0);
    rows.push({
      window,
      storm: 'join',
      clients: CLIENTS,
      cpuSeconds: afterJoin - cpu,
      busyAfterSeconds: joinBusy,
      presenceDeliveries: joinDeliveries,
      presenceSends: counters.sends,
      welcomed: clients.filter((c) => c.welcomed).length,
      errors: clients.reduce((sum, c) => sum + c.errors, 0),
    });

    cpu = afterJoin;
    counters.sends = 0;
    for (const c of clients) c.presenceFrames = 0;
    const leaveStart = performance.now();
    for (const [i, c] of clients.entries()) {
      c.socket.close();
      await sleep(Math.max(0, leaveStart + ((i + 1) * 1000) / RATE - performance.now()));
    }
    const leaveBusy = await untilQuiet(pid, idleRate);
    rows.push({
      window,
      storm: 'leave',
      clients: CLIENTS,
      cpuSeconds: cpuSecondsOf(pid) - cpu,
      busyAfterSeconds: leaveBusy,
      presenceDeliveries: clients.reduce((sum, c) => sum + c.presenceFrames, 0),
      presenceSends: counters.sends,
      welcomed: 0,
      errors: clients.reduce((sum, c) => sum + c.errors, 0),
    });
    return rows;
  } finally {
    await stack.stop();
  }
}

const rows: StormRow[] = [];
for (const window of WINDOWS) rows.push(...(await storms(window)));
console.log(
  markdownTable(
    [
      'PRESENCE_WINDOW_MS (floor: the AWS sample design)',
      'storm',
      'clients',
      'stack CPU s',
      'busy after the storm, s',
      'presence sends (PostToConnection)',
      'presence frames received',
      'welcomed',
      'error frames',
    ],
    rows.map((r) => [
      String(r.window),
      r.storm,
      formatInt(r.clients),
      r.cpuSeconds.toFixed(1),
      r.busyAfterSeconds.toFixed(1),
      formatInt(r.presenceSends),
      formatInt(r.presenceDeliveries),
      r.storm === 'join' ? formatInt(r.welcomed) : '',
      formatInt(r.errors),
    ]),
  ),
);
console.log(JSON.stringify(rows));
if (errorCodes.size > 0) console.log(`error frames by code: ${JSON.stringify(Object.fromEntries(errorCodes))}`);
