/**
 * A CPU profile of the emulator's process while one sender posts small-room messages, for the chat and for the
 * sample-design floor (bench/storm-floor) in turn, under the latency bench's round trips (bench/latency.ts): N clients
 * in one room, M messages from client 0 with the page's clientMsgId, each once every member has the one before (and,
 * for the chat, its ack). Each design's samples are split by where they ran: our handlers, domain and adapters, the
 * AWS SDK (lib-dynamodb's marshalling, each client's own code, and the code the clients share, charged to the client
 * whose frame is nearest on the sample's stack where one is), Powertools, Middy, zod, the emulator, Node and the
 * garbage collector. Loopback only; profiles go under .results/, never into git.
 *
 *   node bench/profile-message.ts [--clients 10] [--messages 80] [--design ours|floor] [--interval-us 100]
 *                                 [--db-delay 5] [--post-delay 15] [--out .results/profile]
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { freePort, LOCAL_TABLE, projectRoot, startDynalite, startLocalStack } from '../scripts/local-stack.ts';
import {
  type CallFrame,
  type CpuProfile,
  type ProfileSplit,
  sourceMapOf,
  sourceOf,
  splitProfile,
  QUEUE_PACKAGES,
  readProfile,
  waitForFile,
} from './cpu-profile.ts';
import { startDelayProxy } from './delay-proxy.ts';
import { emulatorPid } from './e2e.ts';
import { markdownTable } from './stats.ts';

type Design = 'ours' | 'floor';

const CATEGORIES = [
  'ours: handlers (src/handlers)',
  'ours: domain (src/domain)',
  'ours: adapters (src/adapters)',
  'floor handler (bench/storm-floor)',
  'SDK: lib-dynamodb, util-dynamodb (marshalling)',
  'SDK: DynamoDB client (client-dynamodb)',
  'SDK: @connections client (client-apigatewaymanagementapi)',
  'SDK: shared (@smithy, @aws-sdk/core, middleware)',
  'Powertools logger',
  'Powertools metrics',
  'Middy',
  'zod',
  'other handler libraries',
  'emulator (serverless-offline, hapi, ws, osls)',
  'local queue (fauxqs, SQS event source)',
  'Node internals (node:*, V8 builtins)',
  'garbage collector',
  'program (V8, unattributed)',
] as const;
type Category = (typeof CATEGORIES)[number];

function sdkCategoryOf(source: string): Category {
  if (/node_modules\/@aws-sdk\/(lib-dynamodb|util-dynamodb)\//.test(source))
    return 'SDK: lib-dynamodb, util-dynamodb (marshalling)';
  if (source.includes('node_modules/@aws-sdk/client-dynamodb/')) return 'SDK: DynamoDB client (client-dynamodb)';
  if (source.includes('node_modules/@aws-sdk/client-apigatewaymanagementapi/'))
    return 'SDK: @connections client (client-apigatewaymanagementapi)';
  return 'SDK: shared (@smithy, @aws-sdk/core, middleware)';
}

/** A frame's category in a design's process; the floor's handler and its SDK are not bundled. */
function categoryOf(design: Design): (frame: CallFrame) => Category | 'profiler' | undefined {
  return (frame) => {
    if (frame.functionName === '(garbage collector)') return 'garbage collector';
    if (frame.functionName === '(program)') return 'program (V8, unattributed)';
    if (frame.functionName === '(idle)' || frame.functionName === '(root)') return undefined;
    // The preload's Profiler.stop is sampled too: the profiler's own work, not counted.
    if (frame.url === 'node:inspector') return 'profiler';
    if (!frame.url.startsWith('file:')) return 'Node internals (node:*, V8 builtins)';
    const source = sourceOf(frame);
    if (source.endsWith('/bench/profile-preload.ts')) return 'profiler';
    const sdk = /node_modules\/@(aws-sdk|smithy|aws-crypto)\//.test(source);
    if (design === 'floor') {
      if (source.includes('/bench/storm-floor/')) return 'floor handler (bench/storm-floor)';
      if (sdk) return sdkCategoryOf(source);
      return 'emulator (serverless-offline, hapi, ws, osls)';
    }
    if (sourceMapOf(frame.url) !== undefined) {
      if (sdk) return sdkCategoryOf(source);
      if (source.includes('node_modules/@aws-lambda-powertools/logger/')) return 'Powertools logger';
      if (source.includes('node_modules/@aws-lambda-powertools/')) return 'Powertools metrics';
      if (source.includes('node_modules/@middy/')) return 'Middy';
      if (source.includes('node_modules/zod/')) return 'zod';
      if (source.includes('node_modules/')) return 'other handler libraries';
      if (source.includes('src/domain/')) return 'ours: domain (src/domain)';
      if (source.includes('src/adapters/')) return 'ours: adapters (src/adapters)';
      return 'ours: handlers (src/handlers)';
    }
    // Outside the bundles the SDK runs only for the SQS event source's client.
    if (
      sdk ||
      QUEUE_PACKAGES.test(source) ||
      /\/scripts\/(sqs-event-source|offline-sqs-plugin|local-sqs)\.ts$/.test(source)
    )
      return 'local queue (fauxqs, SQS event source)';
    return 'emulator (serverless-offline, hapi, ws, osls)';
  };
}

/**
 * The shared SDK's time by the client whose own code (or adapter) is nearest on the sample's stack. A continuation
 * after an await starts a new stack, so part of it stays unknown.
 */
function sharedSdkByClient(
  profile: CpuProfile,
  design: Design,
): Record<'DynamoDB' | '@connections' | 'unknown', number> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const category = categoryOf(design);
  const clientOf = (frame: CallFrame): 'DynamoDB' | '@connections' | undefined => {
    if (!frame.url.startsWith('file:')) return undefined;
    const source = sourceOf(frame);
    if (/node_modules\/@aws-sdk\/(lib-dynamodb|util-dynamodb|client-dynamodb)\/|src\/adapters\/dynamodb-/.test(source))
      return 'DynamoDB';
    if (/client-apigatewaymanagementapi\/|src\/adapters\/api-gateway-messenger/.test(source)) return '@connections';
    return undefined;
  };
  const result = { DynamoDB: 0, '@connections': 0, unknown: 0 };
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (node === undefined) return;
    const own = category(node.callFrame);
    let charged = own;
    if (own === 'Node internals (node:*, V8 builtins)') {
      for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
        const frame = byId.get(up)?.callFrame;
        const c = frame === undefined ? undefined : category(frame);
        if (c !== undefined && c !== own) {
          charged = c;
          break;
        }
      }
    }
    if (charged !== 'SDK: shared (@smithy, @aws-sdk/core, middleware)') return;
    let client: 'DynamoDB' | '@connections' | undefined;
    for (let up: number | undefined = id; up !== undefined && client === undefined; up = parent.get(up)) {
      const frame = byId.get(up)?.callFrame;
      if (frame !== undefined) client = clientOf(frame);
    }
    result[client ?? 'unknown'] += (profile.timeDeltas[i] ?? 0) / 1000;
  });
  return result;
}

/** Self time by function, each named by its source and line (the bundles' names are minified), Node's own time apart. */
function topFunctions(
  profile: CpuProfile,
  design: Design,
  count: number,
): Array<{ where: string; name: string; category: string; ms: number }> {
  const category = categoryOf(design);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, { where: string; name: string; category: string; ms: number }>();
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) return;
    const c = category(frame);
    if (c === undefined || c === 'profiler') return;
    let where = frame.url.replace(/^.*node_modules\//, '');
    let name = frame.functionName || '(anonymous)';
    const map = frame.url.startsWith('file:') ? sourceMapOf(frame.url) : undefined;
    if (map !== undefined) {
      const entry = map.findEntry(frame.lineNumber, frame.columnNumber);
      if ('originalSource' in entry) {
        where = `${entry.originalSource.replace(/^.*node_modules\//, '').replace(/^(\.\.\/)+/, '')}:${entry.originalLine + 1}`;
        if ('name' in entry && typeof entry.name === 'string' && entry.name !== '') name = entry.name;
      }
    } else if (frame.url.startsWith('file:')) {
      where = `${relative(projectRoot, fileURLToPath(frame.url)).replace(/^.*node_modules\//, '')}:${frame.lineNumber + 1}`;
    }
    const key = `${where}|${name}`;
    const entry = totals.get(key) ?? { where, name, category: c, ms: 0 };
    entry.ms += (profile.timeDeltas[i] ?? 0) / 1000;
    totals.set(key, entry);
  });
  return [...totals.values()].sort((a, b) => b.ms - a.ms).slice(0, count);
}

/** The profile with each bundled frame named by its source, line and name, so that it reads without the bundles. */
function resolved(profile: CpuProfile): CpuProfile {
  return {
    ...profile,
    nodes: profile.nodes.map((node) => {
      const frame = node.callFrame;
      const map = frame.url.startsWith('file:') ? sourceMapOf(frame.url) : undefined;
      const entry = map?.findEntry(frame.lineNumber, frame.columnNumber);
      if (entry === undefined || !('originalSource' in entry)) return node;
      const name = 'name' in entry && typeof entry.name === 'string' && entry.name !== '' ? entry.name : undefined;
      return {
        ...node,
        callFrame: {
          functionName: name ?? frame.functionName,
          url: new URL(entry.originalSource, frame.url).href,
          lineNumber: entry.originalLine,
          columnNumber: entry.originalColumn,
        },
      };
    }),
  };
}

interface Run {
  readonly design: Design;
  readonly messages: number;
  readonly split: ProfileSplit<Category>;
  readonly shared: Record<'DynamoDB' | '@connections' | 'unknown', number>;
  readonly procCpuMs: number;
  readonly profileFile: string;
  readonly top: ReturnType<typeof topFunctions>;
}

/** N clients in one room: sends from client 0 and waits for a message at every member (and its ack, if asked). */
class Room {
  readonly sockets: WebSocket[] = [];
  readonly #waiting = new Map<string, { left: Set<number>; done: () => void }>();
  readonly #acks = new Map<string, () => void>();

  async connect(url: string, count: number): Promise<void> {
    for (let i = 0; i < count; i += 1) {
      const socket = new WebSocket(url);
      await new Promise<void>((resolve, reject) => socket.once('open', resolve).once('error', reject));
      const member = this.sockets.length;
      this.sockets.push(socket);
      socket.on('message', (data) => this.#received(member, data.toString()));
    }
  }

  #received(member: number, data: string): void {
    const frame = JSON.parse(data) as { type?: string; text?: string; clientMsgId?: string };
    if (frame.type === 'message' && frame.text !== undefined) {
      const waiting = this.#waiting.get(frame.text);
      waiting?.left.delete(member);
      if (waiting?.left.size === 0) waiting.done();
    } else if (frame.type === 'ack' && frame.clientMsgId !== undefined) this.#acks.get(frame.clientMsgId)?.();
  }

  async send(frame: { action: string; text: string; clientMsgId?: string; clientId?: string }): Promise<void> {
    const everyone = new Promise<void>((resolve) => {
      this.#waiting.set(frame.text, { left: new Set(this.sockets.keys()), done: resolve });
    });
    const { clientMsgId } = frame;
    const acked =
      clientMsgId === undefined
        ? Promise.resolve()
        : new Promise<void>((resolve) => this.#acks.set(clientMsgId, resolve));
    this.sockets[0]?.send(JSON.stringify(frame));
    const timeout = sleep(10_000, 'timeout');
    if ((await Promise.race([Promise.all([everyone, acked]), timeout])) === 'timeout')
      throw new Error(`message ${frame.text} did not reach every member, or was not acked, within 10 s`);
    this.#waiting.delete(frame.text);
    if (clientMsgId !== undefined) this.#acks.delete(clientMsgId);
  }

  terminate(): void {
    for (const socket of this.sockets) socket.terminate();
  }
}

function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function profileDesign(design: Design, options: Options): Promise<Run> {
  const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\..*/, '');
  const profileFile = join(options.outDir, `message-${design}-${options.clients}-${stamp}.cpuprofile`);
  const buildFolder = join('.esbuild', `profile-message-${design}-${process.pid}`);
  const database = await startDynalite(await freePort());
  const db = await startDelayProxy(database.endpoint, options.dbDelayMs);
  const websocketPort = await freePort();
  const posts = await startDelayProxy(`http://127.0.0.1:${websocketPort}`, options.postDelayMs);
  const room = new Room();
  let stack: Awaited<ReturnType<typeof startLocalStack>> | undefined;
  try {
    stack = await startLocalStack({
      websocketPort,
      lambdaPort: 0,
      httpPort: 0,
      sqsPort: 0,
      dynamoDbPort: 0,
      dynamoDbEndpoint: db.url,
      inProcess: true,
      buildFolder,
      ...(design === 'floor' ? { serviceFolder: join(projectRoot, 'bench', 'storm-floor') } : {}),
      handlerEnv: {
        CHAT_ESBUILD_WATCH: '.esbuild/no-watch',
        WEBSOCKET_MANAGEMENT_ENDPOINT: posts.url,
        NODE_OPTIONS: `--import=${join(projectRoot, 'bench', 'profile-preload.ts')}`,
        CHAT_PROFILE_OUT: profileFile,
        CHAT_PROFILE_INTERVAL_US: String(options.intervalMicros),
        CHAT_ESBUILD_SOURCEMAP: 'linked',
        // As the latency bench runs each design (bench/latency.ts).
        ...(design === 'ours' ? { CHAT_LOCAL_IAM: 'off', RATE_LIMIT_FRAMES: '100000' } : { FLOOR_TABLE: LOCAL_TABLE }),
      },
    });
    const pid = emulatorPid(websocketPort);
    if (pid === undefined) throw new Error(`cannot find the ${design} emulator's process`);
    await room.connect(stack.websocketUrl, options.clients);
    const clientId = `p${process.pid}`;
    const frame = (text: string): { action: string; text: string; clientMsgId?: string; clientId?: string } =>
      design === 'ours'
        ? { action: 'sendmessage', text, clientMsgId: text, clientId }
        : { action: 'sendmessage', text };
    // Warm: the handlers' cold start, then enough messages for the JIT to settle.
    for (let m = 0; m < options.warmUp; m += 1) await room.send(frame(`warm-${design}-${m}`));
    await sleep(1000);
    process.kill(pid, 'SIGUSR2');
    await waitForFile(`${profileFile}.started`, 10_000);
    const cpuBefore = procCpuMs(pid);
    for (let m = 0; m < options.messages; m += 1) await room.send(frame(`profile-${design}-${m}`));
    await sleep(50);
    const used = procCpuMs(pid) - cpuBefore;
    process.kill(pid, 'SIGUSR2');
    const profile = await readProfile(profileFile);
    // The bundles' source maps are read now, before the build folder goes.
    const split = splitProfile(profile, {
      categories: CATEGORIES,
      categoryOf: categoryOf(design),
      nodeInternals: 'Node internals (node:*, V8 builtins)',
      top: 40,
    });
    const shared = sharedSdkByClient(profile, design);
    const top = topFunctions(profile, design, 40);
    writeFileSync(profileFile, JSON.stringify(resolved(profile)));
    return { design, messages: options.messages, split, shared, procCpuMs: used, profileFile, top };
  } finally {
    room.terminate();
    await stack?.stop();
    await db.stop();
    await posts.stop();
    await new Promise<void>((resolve) => database.server.close(() => resolve()));
    await rm(join(projectRoot, buildFolder), { recursive: true, force: true });
    rmSync(`${profileFile}.started`, { force: true });
  }
}

/** Each design's split, in ms per message, side by side. */
function markdownOf(runs: readonly Run[], options: Options): string {
  const per = (run: Run, ms: number): string => (ms / run.messages).toFixed(2);
  const categories = CATEGORIES.filter((c) => runs.some((run) => run.split.self[c] > 0 || run.split.byCaller[c] > 0));
  const heads = runs.flatMap((run) => [`${run.design}: self`, `${run.design}: Node charged to its caller`]);
  const sharedRows = (['DynamoDB', '@connections', 'unknown'] as const).map((client) => [
    `  of which nearest on the stack: ${client}`,
    ...runs.flatMap((run) => ['', per(run, run.shared[client])]),
  ]);
  const rows = categories.flatMap((c) => {
    const row = [c, ...runs.flatMap((run) => [per(run, run.split.self[c]), per(run, run.split.byCaller[c])])];
    return c === 'SDK: shared (@smithy, @aws-sdk/core, middleware)' ? [row, ...sharedRows] : [row];
  });
  rows.push(['**sampled, total**', ...runs.flatMap((run) => [per(run, run.split.busyMs), per(run, run.split.busyMs)])]);
  rows.push(['/proc CPU (profiler included)', ...runs.flatMap((run) => [per(run, run.procCpuMs), ''])]);
  const tops = runs.map(
    (run) => `### Heaviest functions, ${run.design} (ms per message, self)

${markdownTable(
  ['function', 'source', 'category', 'ms / message'],
  run.top.map((f) => [f.name, f.where, f.category, (f.ms / run.messages).toFixed(3)]),
)}`,
  );
  return `## CPU per small-room message in the emulator's process

${options.clients} clients in one room, ${options.messages} messages from one of them (the chat's with clientMsgId and
clientId, as the page sends), each once every member has the one before; +${options.dbDelayMs} ms on every DynamoDB request
and +${options.postDelayMs} ms on every PostToConnection; sampled every ${options.intervalMicros} µs after ${options.warmUp} warm-up
messages. CPU ms per message.

${markdownTable(['where', ...heads], rows)}

${tops.join('\n\n')}
`;
}

interface Options {
  readonly clients: number;
  readonly messages: number;
  readonly warmUp: number;
  readonly intervalMicros: number;
  readonly dbDelayMs: number;
  readonly postDelayMs: number;
  readonly outDir: string;
}

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '10' },
    messages: { type: 'string', default: '80' },
    'warm-up': { type: 'string', default: '20' },
    design: { type: 'string', multiple: true },
    'interval-us': { type: 'string', default: '100' },
    'db-delay': { type: 'string', default: '5' },
    'post-delay': { type: 'string', default: '15' },
    out: { type: 'string', default: join('.results', 'profile') },
  },
  strict: true,
});
const options: Options = {
  clients: Number(values.clients),
  messages: Number(values.messages),
  warmUp: Number(values['warm-up']),
  intervalMicros: Number(values['interval-us']),
  dbDelayMs: Number(values['db-delay']),
  postDelayMs: Number(values['post-delay']),
  outDir: join(projectRoot, values.out),
};
const designs = (values.design ?? ['ours', 'floor']).map((d): Design => {
  if (d !== 'ours' && d !== 'floor') throw new Error(`--design is ours or floor, not ${d}`);
  return d;
});
mkdirSync(options.outDir, { recursive: true });
const runs: Run[] = [];
for (const design of designs) runs.push(await profileDesign(design, options));
const markdown = markdownOf(runs, options);
const path = join(
  options.outDir,
  `message-${options.clients}-${new Date().toISOString().replaceAll(':', '-').replace(/\..*/, '')}.md`,
);
writeFileSync(path, markdown);
console.log(markdown);
console.log(
  `Report: ${relative(projectRoot, path)}; profiles: ${runs.map((r) => relative(projectRoot, r.profileFile)).join(', ')}`,
);
