/**
 * Part 1: real WebSocket clients through the local stack (dynalite + serverless-offline, in process), and a
 * plain `ws` broadcast server in the same harness as the lower bound. Loopback only, bounded in time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { projectRoot, startStackOnFreePorts } from '../scripts/local-stack.ts';
import { formatInt, markdownTable, quantile } from './stats.ts';

export interface E2eRow {
  readonly server: 'chat stack' | 'plain ws';
  readonly clients: number;
  readonly connected: number;
  readonly connectPerSecond: number;
  readonly messages: number;
  readonly expected: number;
  readonly lost: number;
  readonly firstP50Ms: number;
  readonly firstP95Ms: number;
  readonly firstMaxMs: number;
  readonly lastP50Ms: number;
  readonly lastP95Ms: number;
  readonly lastMaxMs: number;
  readonly cpuSeconds: number | undefined;
  readonly peakRssMb: number | undefined;
}

export interface E2eResult {
  readonly rows: E2eRow[];
  readonly markdown: string;
}

const CONNECT_WIDTH = 50;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function e2eSteps(sizes: readonly number[]): number {
  return sizes.length * 3;
}

/** The pid of the serverless-offline process listening on this WebSocket port, found through /proc. */
export function emulatorPid(websocketPort: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('--websocketPort');
      if (args.includes('offline') && at >= 0 && args[at + 1] === String(websocketPort)) return Number(entry);
    } catch {
      // The process ended while /proc was read.
    }
  }
  return undefined;
}

/** CPU seconds used so far and resident memory of a process, from /proc; undefined once it has ended. */
function usage(pid: number): { cpuSeconds: number; rssMb: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rssPages = Number(fields[21]);
    return { cpuSeconds: ticks / 100, rssMb: (rssPages * 4096) / 1024 / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU seconds a process has used so far; throws once it has ended. */
export function cpuSecondsOf(pid: number): number {
  const used = usage(pid);
  if (used === undefined) throw new Error(`process ${pid} has ended`);
  return used.cpuSeconds;
}

export class Receiver {
  readonly arrivals = new Map<string, number>();
  readonly socket: WebSocket;

  constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      const at = performance.now();
      try {
        const frame = JSON.parse(data.toString()) as { type?: unknown; text?: unknown };
        if (frame.type === 'message' && typeof frame.text === 'string') this.arrivals.set(frame.text, at);
      } catch {
        // Not a frame of ours; ignored.
      }
    });
  }
}

export async function connectAll(url: string, count: number): Promise<{ receivers: Receiver[]; seconds: number }> {
  const receivers: Receiver[] = [];
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next += 1;
      const socket = await new Promise<WebSocket | undefined>((resolve) => {
        const ws = new WebSocket(url);
        const timer = setTimeout(() => {
          ws.terminate();
          resolve(undefined);
        }, 15_000);
        ws.once('open', () => {
          clearTimeout(timer);
          resolve(ws);
        });
        ws.once('error', () => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
      if (socket !== undefined) receivers.push(new Receiver(socket));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_WIDTH, count) }, worker));
  return { receivers, seconds: (performance.now() - started) / 1000 };
}

export async function closeAll(receivers: readonly Receiver[]): Promise<void> {
  await Promise.all(
    receivers.map(
      (r) =>
        new Promise<void>((resolve) => {
          if (r.socket.readyState === WebSocket.CLOSED) {
            resolve();
            return;
          }
          const timer = setTimeout(() => {
            r.socket.terminate();
            resolve();
          }, 5000);
          r.socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          r.socket.close();
        }),
    ),
  );
}

/** One size against one server: connect, send M messages one after another, time first and last arrival. */
async function measure(
  server: E2eRow['server'],
  url: string,
  clients: number,
  messages: number,
  pid: number | undefined,
  beforeClose: () => Promise<void> = async () => undefined,
): Promise<E2eRow> {
  const { receivers, seconds } = await connectAll(url, clients);
  const sender = receivers[0];
  const first: number[] = [];
  const last: number[] = [];
  let lost = 0;
  const before = pid === undefined ? undefined : usage(pid);
  let peakRss = before?.rssMb ?? 0;
  const sampler = setInterval(() => {
    const now = pid === undefined ? undefined : usage(pid);
    if (now !== undefined) peakRss = Math.max(peakRss, now.rssMb);
  }, 100);
  try {
    for (let m = 0; m < messages && sender !== undefined; m += 1) {
      const text = `bench-${server.replace(' ', '-')}-${clients}-${m}`;
      const sentAt = performance.now();
      sender.socket.send(JSON.stringify({ action: 'sendmessage', text }));
      const deadline = sentAt + 10_000 + clients * 20;
      while (performance.now() < deadline && receivers.some((r) => !r.arrivals.has(text))) await sleep(5);
      const times = receivers.flatMap((r) => {
        const at = r.arrivals.get(text);
        return at === undefined ? [] : [at - sentAt];
      });
      lost += receivers.length - times.length;
      if (times.length > 0) {
        first.push(Math.min(...times));
        last.push(Math.max(...times));
      }
    }
  } finally {
    clearInterval(sampler);
  }
  const after = pid === undefined ? undefined : usage(pid);
  await beforeClose();
  await closeAll(receivers);
  return {
    server,
    clients,
    connected: receivers.length,
    connectPerSecond: receivers.length / seconds,
    messages,
    expected: messages * receivers.length,
    lost: lost + (clients - receivers.length) * messages,
    firstP50Ms: quantile(first, 0.5),
    firstP95Ms: quantile(first, 0.95),
    firstMaxMs: Math.max(...first),
    lastP50Ms: quantile(last, 0.5),
    lastP95Ms: quantile(last, 0.95),
    lastMaxMs: Math.max(...last),
    cpuSeconds: before !== undefined && after !== undefined ? after.cpuSeconds - before.cpuSeconds : undefined,
    peakRssMb: pid === undefined ? undefined : peakRss,
  };
}

/** The lower bound: a `ws` server that relays every text frame to every client, in this process. */
async function startPlainServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  server.on('connection', (socket) => {
    socket.on('message', (data) => {
      const request = JSON.parse(data.toString()) as { text?: string };
      const frame = JSON.stringify({
        type: 'message',
        id: crypto.randomUUID(),
        from: 'x',
        text: request.text,
        sentAt: new Date().toISOString(),
      });
      for (const client of server.clients) if (client.readyState === WebSocket.OPEN) client.send(frame);
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `ws://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export async function runE2e(
  sizes: readonly number[],
  messages: number,
  onStep: (label: string) => void,
): Promise<E2eResult> {
  const rows: E2eRow[] = [];
  const plain = await startPlainServer();
  try {
    for (const clients of sizes) {
      // The relay first, with no stack running: its figure is the floor of this machine at this moment.
      onStep(`e2e: plain ws N=${formatInt(clients)}`);
      rows.push(await measure('plain ws', plain.url, clients, messages, undefined));
      // A fresh stack per size: the $disconnects of a size's clients each tell the rest of the room, and that storm
      // would still be running when the next size connects; stopping the stack ends it.
      onStep(`e2e: starting the local stack for N=${formatInt(clients)}`);
      const buildFolder = join('.esbuild', `bench-${process.pid}-${clients}`);
      const stack = await startStackOnFreePorts({ buildFolder });
      try {
        const pid = emulatorPid(Number(new URL(stack.websocketUrl).port));
        onStep(`e2e: chat stack N=${formatInt(clients)}`);
        rows.push(await measure('chat stack', stack.websocketUrl, clients, messages, pid, () => stack.stop()));
      } finally {
        await stack.stop();
        await rm(join(projectRoot, buildFolder), { recursive: true, force: true });
      }
    }
  } finally {
    await plain.stop();
  }
  const ratio = (row: E2eRow): string => {
    const base = rows.find((r) => r.server === 'plain ws' && r.clients === row.clients);
    return base === undefined || row.server === 'plain ws' ? '' : `${(row.lastP50Ms / base.lastP50Ms).toFixed(1)}×`;
  };
  const markdown = `## End to end through the local stack (part 1)

\`startLocalStack\` (dynalite + serverless-offline \`--useInProcess\`, handlers bundled as deployed; a fresh stack per size,
stopped before its clients close, so that their $disconnects do not load the next measurement) on loopback; N real
\`ws\` clients connect ${CONNECT_WIDTH} at a time; client 0 sends ${messages} messages one after another (the next once every
client has the previous one, or after 10 s + 20 ms × N). Times are from the send to the first and to the last receiver.
CPU and RSS are the serverless-offline process's, from /proc (its handlers run in it). "plain ws" is a \`ws\` server in
the harness's own process that relays each frame to every client: the lower bound.

${markdownTable(
  [
    'server',
    'N',
    'connected',
    'connects/s',
    'lost / expected',
    'first p50 / p95 / max',
    'last p50 / p95 / max',
    'last p50 vs plain',
    'CPU',
    'peak RSS',
  ],
  rows.map((r) => [
    r.server,
    formatInt(r.clients),
    formatInt(r.connected),
    r.connectPerSecond.toFixed(0),
    `${formatInt(r.lost)} / ${formatInt(r.expected)}`,
    `${r.firstP50Ms.toFixed(1)} / ${r.firstP95Ms.toFixed(1)} / ${r.firstMaxMs.toFixed(1)} ms`,
    `${r.lastP50Ms.toFixed(1)} / ${r.lastP95Ms.toFixed(1)} / ${r.lastMaxMs.toFixed(1)} ms`,
    ratio(r),
    r.cpuSeconds === undefined ? 'n/a' : `${r.cpuSeconds.toFixed(1)} s`,
    r.peakRssMb === undefined ? 'n/a' : `${r.peakRssMb.toFixed(0)} MB`,
  ]),
)}`;
  return { rows, markdown };
}
