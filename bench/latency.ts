/**
 * Latency of one message into a room of N, under AWS-like round trips, side by side with the sample-design floor in
 * the same run. Each design runs under serverless-offline (in process) on a dynalite of its own, and reaches both
 * through delay proxies (bench/delay-proxy.ts): +5 ms on every DynamoDB request, +15 ms on every PostToConnection,
 * by default. "ours" is the chat (serverless.yml); "floor" is bench/storm-floor, the design of AWS's
 * simple-websockets-chat-app (sendmessage: one Scan, then a PostToConnection to every connection, all at once).
 * N real `ws` clients per design; client 0 sends M messages one after another, each once every member has it (or
 * after a timeout), for R rounds that alternate the designs. Loopback only, every wait bounded.
 *
 *   node bench/latency.ts [--sizes 2,10,100,1000] [--messages 15] [--rounds 3] [--db-delay 5] [--post-delay 15]
 *                         [--delay-mode added|total] [--plain] [--quick] [--out .results/bench] [--write]
 *
 * `--write` puts the comparison and the targets into docs/performance.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { LOCAL_TABLE, type LocalStack, projectRoot, startLocalStack } from '../scripts/local-stack.ts';
import { startDynaliteProcess } from './dynalite-process.ts';
import { type ReadmeSection, withSection } from '../scripts/readme-section.ts';
import { type DelayProxy, startDelayProxy } from './delay-proxy.ts';
import { emulatorPid } from './e2e.ts';
import { ProgressBar } from './progress.ts';
import { formatInt, markdownTable, mean, quantile } from './stats.ts';
import { LOCAL_SECRET, PUBLISHER_ACCESS_KEY } from '../scripts/local-iam/http-api-check.ts';
import { PublishClient } from '../scripts/publish-client.ts';

export type Design = 'floor' | 'ours';

export interface LatencyPlan {
  readonly sizes: readonly number[];
  readonly messages: number;
  readonly rounds: number;
  readonly dbDelayMs: number;
  readonly postDelayMs: number;
  /**
   * `added`: the delay comes on top of the local services' own time; `total`: a DynamoDB round trip is at least the
   * delay, dynalite's own time counted within (a PostToConnection is held before it goes either way).
   */
  readonly delayMode: 'added' | 'total';
  /** Send `{action, text}` only, without the page's clientMsgId and clientId. */
  readonly plain: boolean;
  /**
   * Also time messages published through the publish API (a signed POST from a backend) into the same room, beside
   * the member's: the answer comes after the fan-out, as a member's ack does.
   */
  readonly publish?: boolean;
}

/** One design at one room size, every round together. */
export interface LatencyRow {
  readonly design: Design;
  readonly clients: number;
  readonly connected: number;
  readonly messages: number;
  readonly expected: number;
  readonly lost: number;
  readonly firstP50Ms: number;
  readonly firstP95Ms: number;
  readonly lastP50Ms: number;
  readonly lastP95Ms: number;
  /** From the send to the first DynamoDB request reaching its proxy: the emulator's and the handler's edge. */
  readonly toFirstDbP50Ms: number;
  /** From the send to the first PostToConnection reaching the @connections proxy: the handler's work before fan-out. */
  readonly toFirstPostP50Ms: number;
  /** DynamoDB requests a message made before its first PostToConnection, on average. */
  readonly dbBeforeFirstPost: number;
  /** The emulator's CPU over the sending phases, less what it burns idle over as long, per message. */
  readonly cpuMsPerMessage: number;
  /** The same without taking the idle rate off. */
  readonly rawCpuMsPerMessage: number;
  /** The emulator's idle CPU, in ms per second: the lower of its rates before and after the rounds. */
  readonly idleCpuMsPerSecond: number;
  /** DynamoDB requests per message, by operation. */
  readonly dbRequestsPerMessage: Record<string, number>;
  /** How long dynalite took to answer a request on average, beyond the delay added (its work, in its process). */
  readonly dbAnswerMs: number;
  /** How long serverless-offline's @connections took to answer a post on average (its work, in the emulator). */
  readonly postAnswerMs: number;
  /** PostToConnection calls per message (the chat's ack to the sender included). */
  readonly postsPerMessage: number;
  /** Requests a proxy could not forward, by operation and error code. */
  readonly proxyErrors: Record<string, number>;
  /** Requests a proxy sent again: the target had closed the kept-alive socket they went out on. */
  readonly proxyResent: number;
  /** Every message's first and last delivery, ms after its send, in order. */
  readonly firstMs: readonly number[];
  readonly lastMs: readonly number[];
}

export interface LatencyTarget {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | undefined;
}

export interface LatencyResult {
  readonly plan: LatencyPlan;
  readonly rows: LatencyRow[];
  /** With `publish`: the chat's published messages at each size, beside its rows. */
  readonly publishRows: LatencyRow[];
  readonly targets: LatencyTarget[];
  readonly markdown: string;
}

export const DEFAULT_LATENCY_PLAN: LatencyPlan = {
  sizes: [2, 10, 100, 1000],
  messages: 15,
  rounds: 3,
  dbDelayMs: 5,
  postDelayMs: 15,
  delayMode: 'added',
  plain: false,
};
/** `--delay-mode`: `added` (the default) or `total`. */
export function delayModeOf(raw: string | undefined): LatencyPlan['delayMode'] {
  if (raw === undefined || raw === 'added' || raw === 'total') return raw ?? 'added';
  throw new Error(`--delay-mode is added or total, not ${raw}`);
}
export const QUICK_LATENCY_PLAN: LatencyPlan = { ...DEFAULT_LATENCY_PLAN, sizes: [2, 10, 100], messages: 5, rounds: 1 };

const CONNECT_WIDTH = 50;
const CONNECT_TIMEOUT_MS = 15_000;
/** The stacks are settled once no client got a frame for this long and neither emulator is busy. */
const QUIET_MS = 1000;
const QUIET_CAP_MS = 60_000;
const IDLE_SAMPLE_MS = 1000;
/** After a phase's last delivery (and the chat's ack of it), for the handler's tail: its log line, its metrics. */
const TAIL_MS = 50;
const ACK_WAIT_MS = 5000;
const deadlineFor = (clients: number): number => 10_000 + clients * 20;
/** The room the clients are in (the handshake names none): where a publish goes. */
const PUBLISH_ROOM = 'lobby';

/** Steps a run reports to the progress bar: per size, starting the stacks, connecting, then each design's rounds. */
export function latencySteps(plan: LatencyPlan): number {
  return plan.sizes.length * (2 + 2 * plan.rounds);
}

/**
 * CPU time of every thread of a process so far, in ms, from /proc/<pid>/task/<tid>/schedstat (nanoseconds; /proc's
 * stat counts 10 ms ticks, too coarse for a handful of small-room messages).
 */
function cpuMsOf(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended while the folder was read.
    }
  }
  return ns / 1e6;
}

/** `count` free ports, all held open together while they are chosen, so that no two are the same. */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
      servers.push(server);
    }
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('could not find a free port');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

interface Pending {
  readonly expected: number;
  /** Each member's first arrival of the message, by member index. */
  readonly arrivals: Map<number, number>;
  readonly done: () => void;
}

/** A design's N clients in one room, and what they received. */
class Room {
  readonly sockets: WebSocket[] = [];
  lastFrameAt = performance.now();
  readonly #pending = new Map<string, Pending>();
  readonly #acks = new Map<string, () => void>();
  readonly #acked = new Set<string>();

  async connect(url: string, count: number): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        next += 1;
        const socket = await this.#open(url);
        if (socket !== undefined) {
          const member = this.sockets.length;
          this.sockets.push(socket);
          socket.on('message', (data) => this.#received(member, data.toString(), performance.now()));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONNECT_WIDTH, count) }, worker));
  }

  #open(url: string): Promise<WebSocket | undefined> {
    return new Promise((resolve) => {
      const socket = new WebSocket(url);
      const timer = setTimeout(() => {
        socket.terminate();
        resolve(undefined);
      }, CONNECT_TIMEOUT_MS);
      socket.once('open', () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once('error', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  }

  #received(member: number, data: string, at: number): void {
    this.lastFrameAt = at;
    let frame: { type?: unknown; text?: unknown; clientMsgId?: unknown };
    try {
      frame = JSON.parse(data) as typeof frame;
    } catch {
      return;
    }
    if (frame.type === 'message' && typeof frame.text === 'string') {
      const pending = this.#pending.get(frame.text);
      if (pending === undefined || pending.arrivals.has(member)) return;
      pending.arrivals.set(member, at);
      if (pending.arrivals.size >= pending.expected) pending.done();
    } else if (frame.type === 'ack' && typeof frame.clientMsgId === 'string') {
      this.#acked.add(frame.clientMsgId);
      this.#acks.get(frame.clientMsgId)?.();
    }
  }

  /** Sends a frame from member 0 and waits until every member has the message `text`, or the deadline passes. */
  async send(frame: Record<string, unknown> & { text: string }, deadlineMs: number): Promise<Map<number, number>> {
    const sender = this.sockets[0];
    if (sender === undefined) throw new Error('no client connected');
    return this.delivered(frame.text, deadlineMs, () => sender.send(JSON.stringify(frame)));
  }

  /** Runs `start`, then waits until every member has the message `text`, or the deadline passes. */
  async delivered(text: string, deadlineMs: number, start: () => void): Promise<Map<number, number>> {
    const arrivals = new Map<number, number>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve) => {
        this.#pending.set(text, { expected: this.sockets.length, arrivals, done: resolve });
        timer = setTimeout(resolve, deadlineMs);
        start();
      });
    } finally {
      clearTimeout(timer);
      this.#pending.delete(text);
    }
    return arrivals;
  }

  /** Waits for the sender's ack of `clientMsgId`, at most `withinMs`. */
  async ack(clientMsgId: string, withinMs: number): Promise<void> {
    if (this.#acked.has(clientMsgId)) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve) => {
        this.#acks.set(clientMsgId, resolve);
        timer = setTimeout(resolve, withinMs);
      });
    } finally {
      clearTimeout(timer);
      this.#acks.delete(clientMsgId);
    }
  }

  /** Drops every connection at once: called after the stack has stopped, so no $disconnect runs. */
  terminate(): void {
    for (const socket of this.sockets) socket.terminate();
  }
}

/** One design's stack: its dynalite, the delay proxies in front of it and of its @connections, its clients. */
interface Deployed {
  readonly design: Design;
  readonly stack: LocalStack;
  readonly pid: number;
  readonly db: DelayProxy;
  readonly posts: DelayProxy;
  readonly room: Room;
  /** `performance.now()` of each PostToConnection and DynamoDB request as it reached its proxy, cleared per message. */
  readonly postTimes: number[];
  readonly dbTimes: number[];
  idleCpuMsPerSecond: number;
  stop(): Promise<void>;
}

async function deploy(design: Design, plan: LatencyPlan, buildFolder: string): Promise<Deployed> {
  const [dynamoDbPort, websocketPort, lambdaPort, httpPort, sqsPort] = await freePorts(5);
  if (
    dynamoDbPort === undefined ||
    websocketPort === undefined ||
    lambdaPort === undefined ||
    httpPort === undefined ||
    sqsPort === undefined
  )
    throw new Error('could not find free ports');
  // In a process of its own: its work must not queue behind this process's clients and proxies.
  const database = await startDynaliteProcess(dynamoDbPort);
  const postTimes: number[] = [];
  const dbTimes: number[] = [];
  const opened: DelayProxy[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(opened.map((proxy) => proxy.stop()));
    await database.stop();
  };
  try {
    const db = await startDelayProxy(database.endpoint, plan.dbDelayMs, {
      mode: plan.delayMode,
      onRequest: (_, at) => dbTimes.push(at),
    });
    opened.push(db);
    // Always held before it goes: the emulator delivers a post's frame before it answers, so holding only the answer
    // would not delay the delivery, which on AWS waits for the request to cross.
    const posts = await startDelayProxy(`http://127.0.0.1:${websocketPort}`, plan.postDelayMs, {
      mode: 'added',
      onRequest: (operation, at) => {
        if (operation === 'POST /@connections') postTimes.push(at);
      },
    });
    opened.push(posts);
    const handlerEnv: Record<string, string> = {
      // serverless.yml's custom.esbuild.watch: nothing reloads the handlers mid-run.
      CHAT_ESBUILD_WATCH: '.esbuild/no-watch',
      // After startLocalStack's own (the emulator's port): the handlers post through the proxy.
      WEBSOCKET_MANAGEMENT_ENDPOINT: posts.url,
    };
    if (design === 'ours') {
      // The local IAM checks each call in the emulator's process (its @connections routes, a proxy before SQS): work
      // AWS does, not the function, and the floor's service has none. Off, so both designs' CPU is their own.
      handlerEnv['CHAT_LOCAL_IAM'] = 'off';
      // One sender sends every message of the run. Each frame still costs the limiter its UpdateItem; only the
      // refusals, which would stop the run, are gone.
      handlerEnv['RATE_LIMIT_FRAMES'] = '100000';
      handlerEnv['PUBLISH_RATE_LIMIT_REQUESTS'] = '0';
    } else {
      handlerEnv['FLOOR_TABLE'] = LOCAL_TABLE;
    }
    const stack = await startLocalStack({
      websocketPort,
      lambdaPort,
      httpPort,
      sqsPort,
      dynamoDbPort: 0,
      dynamoDbEndpoint: db.url,
      inProcess: true,
      buildFolder,
      ...(design === 'floor' ? { serviceFolder: join(projectRoot, 'bench', 'storm-floor') } : {}),
      handlerEnv,
    });
    const pid = emulatorPid(websocketPort);
    if (pid === undefined) {
      await stack.stop();
      throw new Error(`could not find the ${design} emulator's process`);
    }
    const room = new Room();
    return {
      design,
      stack,
      pid,
      db,
      posts,
      room,
      postTimes,
      dbTimes,
      idleCpuMsPerSecond: 0,
      async stop() {
        await stack.stop();
        room.terminate();
        await closeAll();
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Waits until no client of any design got a frame for {@link QUIET_MS} and no emulator used over 10 % of a CPU. */
async function untilQuiet(deployed: readonly Deployed[]): Promise<void> {
  const start = performance.now();
  let cpu = deployed.map((d) => cpuMsOf(d.pid));
  let at = start;
  let busyAt = start;
  while (performance.now() - start < QUIET_CAP_MS) {
    await sleep(250);
    const now = performance.now();
    const nowCpu = deployed.map((d) => cpuMsOf(d.pid));
    if (nowCpu.some((used, i) => used - (cpu[i] ?? 0) > 0.1 * (now - at))) busyAt = now;
    cpu = nowCpu;
    at = now;
    const lastFrame = Math.max(...deployed.map((d) => d.room.lastFrameAt));
    if (now - Math.max(lastFrame, busyAt) >= QUIET_MS) return;
  }
}

function counted(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([operation, count]): [string, number] => [operation, count - (before[operation] ?? 0)])
      .filter(([, count]) => count > 0),
  );
}

interface Phase {
  readonly first: number[];
  readonly last: number[];
  readonly toFirstPost: number[];
  readonly toFirstDb: number[];
  readonly dbBeforeFirstPost: number[];
  readonly lost: number;
  readonly cpuMs: number;
  readonly elapsedMs: number;
  readonly db: Record<string, number>;
  readonly posts: number;
  readonly dbAnswered: Answered;
  readonly postsAnswered: Answered;
}

interface Answered {
  readonly count: number;
  readonly totalMs: number;
}

/** Every operation's answers together. */
function allAnswered(byOperation: Record<string, Answered>): Answered {
  let count = 0;
  let totalMs = 0;
  for (const answered of Object.values(byOperation)) {
    count += answered.count;
    totalMs += answered.totalMs;
  }
  return { count, totalMs };
}

const since = (now: Answered, before: Answered): Answered => ({
  count: now.count - before.count,
  totalMs: now.totalMs - before.totalMs,
});

/** The local publisher's client of a stack's publish API, as `npm run publish` signs. */
function publisherOf(d: Deployed): PublishClient {
  return new PublishClient({
    endpoint: d.stack.httpEndpoint,
    credentials: { accessKeyId: PUBLISHER_ACCESS_KEY, secretAccessKey: LOCAL_SECRET },
  });
}

/**
 * One round of one design: M messages one after another from client 0, or with `publisher` published into the
 * clients' room through the publish API.
 */
async function phase(
  d: Deployed,
  plan: LatencyPlan,
  tag: string,
  clientId: string,
  publisher?: PublishClient,
): Promise<Phase> {
  const { room } = d;
  const first: number[] = [];
  const last: number[] = [];
  const toFirstPost: number[] = [];
  const toFirstDb: number[] = [];
  const dbBeforeFirstPost: number[] = [];
  let lost = 0;
  const dbBefore = d.db.counts();
  const postsBefore = d.posts.counts()['POST /@connections'] ?? 0;
  const dbAnsweredBefore = allAnswered(d.db.answered());
  const postsAnsweredBefore = allAnswered(d.posts.answered());
  const cpuBefore = cpuMsOf(d.pid);
  const started = performance.now();
  for (let m = 0; m < plan.messages; m += 1) {
    const text = `latency ${tag} ${m}`;
    const clientMsgId = `${clientId}.${tag.replaceAll(' ', '-')}-${m}`;
    const frame = plan.plain ? { action: 'sendmessage', text } : { action: 'sendmessage', text, clientMsgId, clientId };
    d.postTimes.length = 0;
    d.dbTimes.length = 0;
    const sentAt = performance.now();
    let answered: Promise<unknown> | undefined;
    const arrivals =
      publisher === undefined
        ? await room.send(frame, deadlineFor(room.sockets.length))
        : await room.delivered(text, deadlineFor(room.sockets.length), () => {
            answered = publisher.publish(PUBLISH_ROOM, { text, clientMsgId }).catch(() => undefined);
          });
    const times = [...arrivals.values()].map((at) => at - sentAt);
    lost += room.sockets.length - times.length;
    if (times.length > 0) {
      first.push(Math.min(...times));
      last.push(Math.max(...times));
    }
    const firstPost = d.postTimes[0];
    if (firstPost !== undefined) {
      toFirstPost.push(firstPost - sentAt);
      dbBeforeFirstPost.push(d.dbTimes.filter((at) => at < firstPost).length);
    }
    const firstDb = d.dbTimes[0];
    if (firstDb !== undefined) toFirstDb.push(firstDb - sentAt);
    // The chat's message ends with its ack to the sender, after the fan-out: its work is the message's, and its post
    // must not pass for the next message's first.
    if (answered !== undefined) await answered;
    else if (d.design === 'ours' && !plan.plain) await room.ack(clientMsgId, ACK_WAIT_MS);
  }
  await sleep(TAIL_MS);
  const elapsedMs = performance.now() - started;
  return {
    first,
    last,
    toFirstPost,
    toFirstDb,
    dbBeforeFirstPost,
    lost,
    cpuMs: cpuMsOf(d.pid) - cpuBefore,
    elapsedMs,
    db: counted(d.db.counts(), dbBefore),
    posts: (d.posts.counts()['POST /@connections'] ?? 0) - postsBefore,
    dbAnswered: since(allAnswered(d.db.answered()), dbAnsweredBefore),
    postsAnswered: since(allAnswered(d.posts.answered()), postsAnsweredBefore),
  };
}

function averageOf(answers: readonly Answered[]): number {
  const count = answers.reduce((sum, a) => sum + a.count, 0);
  return answers.reduce((sum, a) => sum + a.totalMs, 0) / count;
}

function rowOf(d: Deployed, clients: number, phases: readonly Phase[], plan: LatencyPlan): LatencyRow {
  const first = phases.flatMap((p) => p.first);
  const last = phases.flatMap((p) => p.last);
  const messages = plan.messages * phases.length;
  const cpuMs = phases.reduce((sum, p) => sum + p.cpuMs, 0);
  const idleMs = (d.idleCpuMsPerSecond * phases.reduce((sum, p) => sum + p.elapsedMs, 0)) / 1000;
  const db: Record<string, number> = {};
  for (const p of phases) for (const [op, n] of Object.entries(p.db)) db[op] = (db[op] ?? 0) + n / messages;
  return {
    design: d.design,
    clients,
    connected: d.room.sockets.length,
    messages,
    expected: messages * clients,
    lost: phases.reduce((sum, p) => sum + p.lost, 0) + (clients - d.room.sockets.length) * messages,
    firstP50Ms: quantile(first, 0.5),
    firstP95Ms: quantile(first, 0.95),
    lastP50Ms: quantile(last, 0.5),
    lastP95Ms: quantile(last, 0.95),
    toFirstDbP50Ms: quantile(
      phases.flatMap((p) => p.toFirstDb),
      0.5,
    ),
    toFirstPostP50Ms: quantile(
      phases.flatMap((p) => p.toFirstPost),
      0.5,
    ),
    dbBeforeFirstPost: mean(phases.flatMap((p) => p.dbBeforeFirstPost)),
    cpuMsPerMessage: Math.max(0, cpuMs - idleMs) / messages,
    rawCpuMsPerMessage: cpuMs / messages,
    idleCpuMsPerSecond: d.idleCpuMsPerSecond,
    dbRequestsPerMessage: db,
    dbAnswerMs: averageOf(phases.map((p) => p.dbAnswered)),
    postAnswerMs: averageOf(phases.map((p) => p.postsAnswered)),
    postsPerMessage: phases.reduce((sum, p) => sum + p.posts, 0) / messages,
    proxyErrors: { ...d.db.errors(), ...d.posts.errors() },
    proxyResent: d.db.resent() + d.posts.resent(),
    firstMs: first,
    lastMs: last,
  };
}

/** Each emulator's CPU over {@link IDLE_SAMPLE_MS} once all is quiet, in ms per second. */
async function idleRates(deployed: readonly Deployed[]): Promise<number[]> {
  await untilQuiet(deployed);
  const from = deployed.map((d) => cpuMsOf(d.pid));
  await sleep(IDLE_SAMPLE_MS);
  return deployed.map((d, i) => ((cpuMsOf(d.pid) - (from[i] ?? 0)) * 1000) / IDLE_SAMPLE_MS);
}

/** Both designs at one size: fresh stacks, N clients each, a warm-up message, then the rounds. */
async function measureSize(
  clients: number,
  plan: LatencyPlan,
  onStep: (label: string) => void,
  folders: Record<Design, string>,
): Promise<{ rows: LatencyRow[]; published: LatencyRow[] }> {
  onStep(`latency N=${formatInt(clients)}: starting both stacks`);
  const started = await Promise.allSettled([deploy('ours', plan, folders.ours), deploy('floor', plan, folders.floor)]);
  const deployed = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const byDesign = (design: Design): Deployed => {
      const d = deployed.find((x) => x.design === design);
      if (d === undefined) throw new Error(`no ${design} stack`);
      return d;
    };
    onStep(`latency N=${formatInt(clients)}: connecting ${formatInt(clients)} clients to each`);
    for (const d of deployed) await d.room.connect(d.stack.websocketUrl, clients);
    const clientId = `p${randomBytes(12).toString('hex')}`;
    // The first message pays each handler's cold start: outside the figures.
    for (const d of deployed) {
      await d.room.send({ action: 'sendmessage', text: `latency warm-up ${d.design}` }, deadlineFor(clients));
    }
    const idleBefore = await idleRates(deployed);

    const phases: Record<Design, Phase[]> = { ours: [], floor: [] };
    const published: Phase[] = [];
    for (let round = 0; round < plan.rounds; round += 1) {
      // Alternating which design goes first, so neither always runs in the other's wake.
      const order: Design[] = round % 2 === 0 ? ['ours', 'floor'] : ['floor', 'ours'];
      for (const design of order) {
        onStep(`latency N=${formatInt(clients)}: ${design}, round ${round + 1} of ${plan.rounds}`);
        phases[design].push(await phase(byDesign(design), plan, `${design} ${clients} ${round}`, clientId));
      }
      if (plan.publish === true) {
        const ours = byDesign('ours');
        published.push(await phase(ours, plan, `publish ${clients} ${round}`, clientId, publisherOf(ours)));
      }
    }
    // The lower of the rates before and after the rounds: a connection storm's or a round's garbage collected in
    // one second of idling would otherwise be taken off every message.
    const idleAfter = await idleRates(deployed);
    deployed.forEach((d, i) => {
      d.idleCpuMsPerSecond = Math.min(idleBefore[i] ?? 0, idleAfter[i] ?? 0);
    });
    const rows = (['floor', 'ours'] as const).map((design) => rowOf(byDesign(design), clients, phases[design], plan));
    return { rows, published: published.length === 0 ? [] : [rowOf(byDesign('ours'), clients, published, plan)] };
  } finally {
    // Stacks first, then clients: a $disconnect storm would still be running when the next size connects.
    await Promise.all(deployed.map((d) => d.stop()));
  }
}

const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(1) : 'n/a');
const ratio = (ours: number, floor: number): number => ours / floor;
const times = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a');

function targetsOf(rows: readonly LatencyRow[]): LatencyTarget[] {
  const pair = (n: number): { floor: LatencyRow; ours: LatencyRow } | undefined => {
    const floor = rows.find((r) => r.design === 'floor' && r.clients === n);
    const ours = rows.find((r) => r.design === 'ours' && r.clients === n);
    return floor === undefined || ours === undefined ? undefined : { floor, ours };
  };
  const targets: LatencyTarget[] = [];
  const against = (
    n: number,
    label: string,
    limit: number,
    pick: (r: LatencyRow) => number,
    unit: string,
    format = ms,
  ): void => {
    const p = pair(n);
    const target = `${label} at N=${formatInt(n)} ≤ ${limit.toFixed(1)}× the floor's`;
    if (p === undefined) {
      targets.push({ target, measured: 'not measured', met: undefined });
      return;
    }
    const r = ratio(pick(p.ours), pick(p.floor));
    targets.push({
      target,
      measured: `${times(r)} (${format(pick(p.ours))} vs ${format(pick(p.floor))} ${unit})`,
      met: Number.isFinite(r) && r <= limit,
    });
  };
  against(2, 'first delivery p50', 1.1, (r) => r.firstP50Ms, 'ms');
  against(10, 'first delivery p50', 1.1, (r) => r.firstP50Ms, 'ms');
  against(100, 'first delivery p50', 1.0, (r) => r.firstP50Ms, 'ms');
  against(100, 'last delivery p50', 1.0, (r) => r.lastP50Ms, 'ms');
  against(1000, 'last delivery p50', 1.0, (r) => r.lastP50Ms, 'ms');
  against(10, 'emulator CPU per message', 1.2, (r) => r.cpuMsPerMessage, 'ms');
  return targets;
}

/** Each size's floor and ours rows, side by side. */
function pairsOf(rows: readonly LatencyRow[]): { n: number; floor: LatencyRow; ours: LatencyRow }[] {
  const sizes = [...new Set(rows.map((r) => r.clients))];
  return sizes.flatMap((n) => {
    const floor = rows.find((r) => r.design === 'floor' && r.clients === n);
    const ours = rows.find((r) => r.design === 'ours' && r.clients === n);
    return floor === undefined || ours === undefined ? [] : [{ n, floor, ours }];
  });
}

/** The table of first and last deliveries and CPU per message, ours against the floor, by room size. */
function comparisonTable(rows: readonly LatencyRow[]): string {
  return markdownTable(
    [
      'N',
      'floor first p50 / p95',
      'ours first p50 / p95',
      'floor last p50 / p95',
      'ours last p50 / p95',
      'first ratio',
      'last ratio',
      'CPU per message floor / ours / ratio',
      'lost floor / ours',
    ],
    pairsOf(rows).map(({ n, floor, ours }) => [
      formatInt(n),
      `${ms(floor.firstP50Ms)} / ${ms(floor.firstP95Ms)} ms`,
      `${ms(ours.firstP50Ms)} / ${ms(ours.firstP95Ms)} ms`,
      `${ms(floor.lastP50Ms)} / ${ms(floor.lastP95Ms)} ms`,
      `${ms(ours.lastP50Ms)} / ${ms(ours.lastP95Ms)} ms`,
      times(ratio(ours.firstP50Ms, floor.firstP50Ms)),
      times(ratio(ours.lastP50Ms, floor.lastP50Ms)),
      `${ms(floor.cpuMsPerMessage)} / ${ms(ours.cpuMsPerMessage)} ms / ${times(ratio(ours.cpuMsPerMessage, floor.cpuMsPerMessage))}`,
      `${formatInt(floor.lost)} / ${formatInt(ours.lost)} of ${formatInt(floor.expected)}`,
    ]),
  );
}

function targetsTable(targets: readonly LatencyTarget[]): string {
  return markdownTable(
    ['target', 'measured', 'status'],
    targets.map((t) => [t.target, t.measured, t.met === undefined ? 'n/a' : t.met ? 'met' : '**not met**']),
  );
}

/** Where docs/performance.md holds the latency table. */
export const LATENCY_SECTION: ReadmeSection = {
  start: '<!-- latency: generated by bench/latency.ts --write, do not edit -->',
  end: '<!-- /latency -->',
};

/** docs/performance.md's part: the comparison and the targets, with how the run was made. */
export function readmeLatency(result: LatencyResult, at: Date): string {
  const { plan } = result;
  const delays =
    plan.delayMode === 'total'
      ? `round trips of at least ${plan.dbDelayMs} ms to DynamoDB and +${plan.postDelayMs} ms on every PostToConnection`
      : `+${plan.dbDelayMs} ms on every DynamoDB request and +${plan.postDelayMs} ms on every PostToConnection`;
  return `Run of ${at.toISOString().slice(0, 10)}, ${delays}, ${plan.messages} messages × ${plan.rounds} rounds per size${plan.plain ? ', without `clientMsgId`' : ', sent as the page sends them'}:

${comparisonTable(result.rows)}

${targetsTable(result.targets)}`;
}

/** A published message's first and last delivery beside a member's, at each size measured with `publish`. */
function publishTable(rows: readonly LatencyRow[], publishRows: readonly LatencyRow[]): string {
  if (publishRows.length === 0) return '';
  const lines = publishRows.flatMap((published) => {
    const member = rows.find((row) => row.design === 'ours' && row.clients === published.clients);
    if (member === undefined) return [];
    return [
      [
        formatInt(published.clients),
        `${ms(member.firstP50Ms)} / ${ms(member.lastP50Ms)} ms`,
        `${ms(published.firstP50Ms)} / ${ms(published.lastP50Ms)} ms`,
        times(ratio(published.firstP50Ms, member.firstP50Ms)),
        `${formatInt(published.lost)} of ${formatInt(published.expected)}`,
      ],
    ];
  });
  return `A message published through the publish API (a signed POST into the clients' room, the next once the answer
came, as a member's waits for its ack), beside a member's message, same stack, same delays:

${markdownTable(['N', "member's first / last p50", 'published first / last p50', 'first ratio', 'published lost'], lines)}
`;
}

function markdownOf(
  plan: LatencyPlan,
  rows: readonly LatencyRow[],
  targets: readonly LatencyTarget[],
  publishRows: readonly LatencyRow[] = [],
): string {
  const pairs = pairsOf(rows);
  const ops = (row: LatencyRow): string =>
    Object.entries(row.dbRequestsPerMessage)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([op, n]) => `${op} ×${Number.isInteger(n) ? n : n.toFixed(2)}`)
      .join(', ');
  const total = (row: LatencyRow): number => Object.values(row.dbRequestsPerMessage).reduce((a, b) => a + b, 0);
  return `## Latency under AWS-like round trips: ours against the sample-design floor

Both designs in the same run, each under serverless-offline \`--useInProcess\` on a dynalite of its own, a fresh pair
of stacks per size. ${plan.delayMode === 'total' ? `Every DynamoDB request's round trip is made at least ${plan.dbDelayMs} ms (dynalite's own time counted within, as a region's is) and every PostToConnection is held +${plan.postDelayMs} ms` : `Every DynamoDB request is held +${plan.dbDelayMs} ms and every PostToConnection +${plan.postDelayMs} ms`} by a
proxy on loopback (bench/delay-proxy.ts) before it goes on. **floor**: bench/storm-floor, AWS's
simple-websockets-chat-app design (sendmessage: one Scan, then a PostToConnection to every connection, all at once,
with the SDK's default clients). **ours**: the chat as serverless.yml deploys it, the local IAM checks off (the floor
has none) and the rate limit raised so one sender can send the whole run (each frame still pays its UpdateItem).
N \`ws\` clients per design (the chat's all in one room); client 0 sends ${plan.messages} messages one after another
${plan.plain ? '(`{action, text}` only)' : 'as the page does (`{action, text, clientMsgId, clientId}`; the chat acks each to its sender after its fan-out, and the next waits for that ack too)'}, the next once every
member has the previous one (or after 10 s + 20 ms × N: lost), for ${plan.rounds} round${plan.rounds === 1 ? '' : 's'} alternating which design goes first.
Times are from the send to the first and to the last of the N members (the sender included: both designs post to it).
CPU is the emulator process's (the handlers run in it, and so does its @connections server), from /proc's schedstat,
over the sending phases, less its idle rate over as long (the lower of one second measured before and one after the
rounds: the chat's local queue pollers), per message.

${comparisonTable(rows)}

Targets: first delivery p50 ≤ 1.1× the floor's at N = 2 and 10, ≤ 1.0× at 100; last delivery p50 ≤ 1.0× at 100 and
1,000; CPU per small-room (N = 10) message ≤ 1.2× the floor's.

${targetsTable(targets)}

${publishTable(rows, publishRows)}
Where a message's time goes: from the send to its first DynamoDB request (the emulator, the handler's edge) and to its
first PostToConnection reaching the proxy (the reads and writes before the fan-out); the requests each design made per
message; and how long, on average, dynalite (in a process of its own) and the emulator's @connections took to answer
a request once the proxy let it go: it comes on top of the delay, where a region's round trip includes its service's
time.

${markdownTable(
  [
    'N',
    'design',
    'to first DynamoDB request p50',
    'to first post p50',
    'DynamoDB requests per message',
    'of them before the first post',
    'PostToConnection per message',
    'answer after the delay: DynamoDB / @connections',
    'CPU raw / idle',
    'proxy errors / resent',
  ],
  pairs.flatMap(({ n, floor, ours }) =>
    [floor, ours].map((r) => [
      formatInt(n),
      r.design,
      `${ms(r.toFirstDbP50Ms)} ms`,
      `${ms(r.toFirstPostP50Ms)} ms`,
      `${total(r).toFixed(total(r) % 1 === 0 ? 0 : 2)}: ${ops(r)}`,
      r.dbBeforeFirstPost.toFixed(1),
      r.postsPerMessage.toFixed(r.postsPerMessage % 1 === 0 ? 0 : 2),
      `${ms(r.dbAnswerMs)} / ${ms(r.postAnswerMs)} ms`,
      `${ms(r.rawCpuMsPerMessage)} ms / ${r.idleCpuMsPerSecond.toFixed(0)} ms/s`,
      `${
        Object.entries(r.proxyErrors)
          .map(([what, n]) => `${what} ×${n}`)
          .join(', ') || '0'
      } / ${r.proxyResent}`,
    ]),
  ),
)}`;
}

/** Runs every size of the plan; `onStep` names each step as it starts. */
export async function runLatency(plan: LatencyPlan, onStep: (label: string) => void): Promise<LatencyResult> {
  const folders: Record<Design, string> = {
    ours: join('.esbuild', `bench-latency-${process.pid}`),
    // The floor's service is plain JavaScript without serverless-esbuild; the folder is only startLocalStack's due.
    floor: join('.esbuild', `bench-latency-floor-${process.pid}`),
  };
  const rows: LatencyRow[] = [];
  const publishRows: LatencyRow[] = [];
  try {
    for (const clients of plan.sizes) {
      const measured = await measureSize(clients, plan, onStep, folders);
      rows.push(...measured.rows);
      publishRows.push(...measured.published);
    }
  } finally {
    for (const folder of Object.values(folders)) await rm(join(projectRoot, folder), { recursive: true, force: true });
  }
  const targets = targetsOf(rows);
  return { plan, rows, publishRows, targets, markdown: markdownOf(plan, rows, targets, publishRows) };
}

/** Writes latency.md and latency.json (every message's times included) into `outDir`; returns the markdown's path. */
export function writeLatencyReport(outDir: string, result: LatencyResult): string {
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, 'latency.md');
  writeFileSync(path, `${result.markdown}\n`);
  writeFileSync(
    join(outDir, 'latency.json'),
    `${JSON.stringify({ plan: result.plan, rows: result.rows, targets: result.targets }, null, 2)}\n`,
  );
  return path;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string' },
      messages: { type: 'string' },
      rounds: { type: 'string' },
      'db-delay': { type: 'string' },
      'post-delay': { type: 'string' },
      'delay-mode': { type: 'string' },
      plain: { type: 'boolean', default: false },
      publish: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      write: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
    strict: true,
  });
  const base = values.quick ? QUICK_LATENCY_PLAN : DEFAULT_LATENCY_PLAN;
  const count = (raw: string | undefined, fallback: number): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`not a non-negative number: ${raw}`);
    return value;
  };
  const plan: LatencyPlan = {
    sizes: values.sizes === undefined ? base.sizes : values.sizes.split(',').map((s) => Number(s.replaceAll('_', ''))),
    messages: count(values.messages, base.messages),
    rounds: count(values.rounds, base.rounds),
    dbDelayMs: count(values['db-delay'], base.dbDelayMs),
    postDelayMs: count(values['post-delay'], base.postDelayMs),
    delayMode: delayModeOf(values['delay-mode']),
    plain: values.plain,
    publish: values.publish,
  };
  if (plan.sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`not a list of sizes: ${values.sizes}`);
  const bar = new ProgressBar(latencySteps(plan));
  let open = false;
  const result = await runLatency(plan, (label) => {
    if (open) bar.tick();
    open = true;
    bar.step(label);
  });
  bar.finish();
  const path = writeLatencyReport(values.out ?? join(projectRoot, '.results', 'bench'), result);
  console.log(result.markdown);
  console.log(`Report: ${path}`);
  if (values.write) {
    const readme = join(projectRoot, 'docs', 'performance.md');
    writeFileSync(
      readme,
      withSection(readFileSync(readme, 'utf8'), LATENCY_SECTION, readmeLatency(result, new Date())),
    );
    console.log('docs/performance.md: latency section written');
  }
}
