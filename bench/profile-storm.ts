/**
 * A CPU profile of the local stack's emulator process during the presence storms of issue 13 (bench/presence-storm.ts):
 * N clients join one room sending hello at a fixed rate, then close at that rate. One profile per storm, each split by
 * where its self time went: our handlers, domain and adapters, the AWS SDK in the handlers, Powertools, Middy, zod, the
 * emulator (serverless-offline, hapi, ws, osls), the local queue (fauxqs, its fastify, and the SQS event source with its
 * own SDK client), Node internals and the garbage collector. Loopback only; profiles go under .results/, never into git.
 *
 *   node bench/profile-storm.ts [--clients 500] [--rate 100] [--interval-us 500] [--window 1000] [--out .results/profile]
 *
 * It drives bench/profile-preload.ts as `npm run profile` does (SIGUSR2 starts and stops node:inspector's profiler in the
 * emulator's process); the bundles get linked source maps so that a bundle's samples go to the source each came from.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { projectRoot, startStackOnFreePorts } from '../scripts/local-stack.ts';
import { cpuSecondsOf, emulatorPid } from './e2e.ts';
import {
  type CallFrame,
  type ProfileSplit,
  sourceMapOf,
  sourceOf,
  splitProfile,
  QUEUE_PACKAGES,
  readProfile,
  waitForFile,
} from './cpu-profile.ts';
import { markdownTable } from './stats.ts';

const CATEGORIES = [
  'ours: handlers (src/handlers)',
  'ours: domain (src/domain)',
  'ours: adapters (src/adapters)',
  'AWS SDK in the handlers (DynamoDB, SQS, @connections)',
  'Powertools (logger, metrics)',
  'Middy',
  'zod',
  'other handler libraries',
  'emulator (serverless-offline, hapi, ws, osls)',
  'local queue (fauxqs, fastify, SQS event source and its SDK client)',
  'Node internals (node:*, V8 builtins)',
  'garbage collector',
  'program (V8, unattributed)',
] as const;
type Category = (typeof CATEGORIES)[number];

function categoryOf(frame: CallFrame): Category | 'profiler' | undefined {
  if (frame.functionName === '(garbage collector)') return 'garbage collector';
  if (frame.functionName === '(program)') return 'program (V8, unattributed)';
  if (frame.functionName === '(idle)' || frame.functionName === '(root)') return undefined;
  if (!frame.url.startsWith('file:')) return 'Node internals (node:*, V8 builtins)';
  const source = sourceOf(frame);
  if (source.endsWith('/bench/profile-preload.ts')) return 'profiler';
  const bundled = sourceMapOf(frame.url) !== undefined;
  if (bundled) {
    if (/node_modules\/@(aws-sdk|smithy|aws-crypto)\//.test(source))
      return 'AWS SDK in the handlers (DynamoDB, SQS, @connections)';
    if (source.includes('node_modules/@aws-lambda-powertools/')) return 'Powertools (logger, metrics)';
    if (source.includes('node_modules/@middy/')) return 'Middy';
    if (source.includes('node_modules/zod/')) return 'zod';
    if (source.includes('node_modules/')) return 'other handler libraries';
    if (source.includes('src/domain/')) return 'ours: domain (src/domain)';
    if (source.includes('src/adapters/')) return 'ours: adapters (src/adapters)';
    return 'ours: handlers (src/handlers)';
  }
  if (/\/scripts\/(sqs-event-source|offline-sqs-plugin|local-sqs)\.ts$/.test(source) || QUEUE_PACKAGES.test(source))
    return 'local queue (fauxqs, fastify, SQS event source and its SDK client)';
  // Outside the bundles, the SDK runs only for the event source's SQS client (and fauxqs's own imports).
  if (/node_modules\/@(aws-sdk|smithy|aws-crypto)\//.test(source))
    return 'local queue (fauxqs, fastify, SQS event source and its SDK client)';
  return 'emulator (serverless-offline, hapi, ws, osls)';
}

function splitMarkdown(title: string, split: ProfileSplit<Category>, cpuSeconds: number): string {
  const share = (ms: number): string => `${((ms / split.busyMs) * 100).toFixed(1)}%`;
  return `### ${title}: ${split.busyMs.toFixed(0)} ms sampled, ${cpuSeconds.toFixed(1)} CPU-s by /proc (profiler included)

${markdownTable(
  ['where the CPU went', 'self', 'share', 'Node charged to its caller', 'share'],
  CATEGORIES.map((c) => [
    c,
    `${split.self[c].toFixed(0)} ms`,
    share(split.self[c]),
    `${split.byCaller[c].toFixed(0)} ms`,
    share(split.byCaller[c]),
  ]),
)}

${markdownTable(
  ['function', 'source', 'category', 'self'],
  split.top.map((f) => [f.name, f.where, f.category, `${f.ms.toFixed(1)} ms`]),
)}
`;
}

let lastFrameAt = performance.now();

function openClient(url: string): Promise<WebSocket | undefined> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(() => {
      socket.terminate();
      resolve(undefined);
    }, 30_000);
    socket.on('message', () => {
      lastFrameAt = performance.now();
    });
    socket.once('open', () => {
      clearTimeout(timer);
      socket.send(JSON.stringify({ action: 'hello' }));
      resolve(socket);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/** Until no frame for 3 s and the emulator used under 5 % of a CPU over the last second (or 120 s). */
async function untilQuiet(pid: number): Promise<void> {
  const start = performance.now();
  let previous = { at: start, cpu: cpuSecondsOf(pid) };
  let lastBusy = start;
  for (;;) {
    await sleep(1000);
    const now = { at: performance.now(), cpu: cpuSecondsOf(pid) };
    if (now.cpu - previous.cpu > 0.05 * ((now.at - previous.at) / 1000)) lastBusy = now.at;
    previous = now;
    const last = Math.max(lastBusy, lastFrameAt);
    if ((now.at - last >= 3000 && now.at - start >= 1000) || now.at - start >= 120_000) return;
  }
}

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '500' },
    rate: { type: 'string', default: '100' },
    window: { type: 'string', default: '1000' },
    'interval-us': { type: 'string', default: '500' },
    out: { type: 'string', default: join('.results', 'profile') },
  },
  strict: true,
});
const CLIENTS = Number(values.clients);
const RATE = Number(values.rate);
const outDir = join(projectRoot, values.out);
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\..*/, '');
const profileFile = join(outDir, `storm-${CLIENTS}-${stamp}.cpuprofile`);
const buildFolder = join('.esbuild', `profile-storm-${process.pid}`);

const stack = await startStackOnFreePorts({
  buildFolder,
  handlerEnv: {
    PRESENCE_WINDOW_MS: values.window,
    NODE_OPTIONS: `--import=${join(projectRoot, 'bench', 'profile-preload.ts')}`,
    CHAT_PROFILE_OUT: profileFile,
    CHAT_PROFILE_INTERVAL_US: values['interval-us'],
    CHAT_ESBUILD_SOURCEMAP: 'linked',
  },
});
const sockets: WebSocket[] = [];
try {
  const pid = emulatorPid(Number(new URL(stack.websocketUrl).port));
  if (pid === undefined) throw new Error('cannot find the emulator process');
  const url = `${stack.websocketUrl}?room=storm`;
  const warm = await openClient(url);
  await sleep(1500);
  warm?.close();
  await untilQuiet(pid);

  /** Profiles `storm` until the stack is quiet again; returns the split and the /proc CPU seconds. */
  const profiled = async (name: string, storm: () => Promise<void>): Promise<string> => {
    rmSync(profileFile, { force: true });
    rmSync(`${profileFile}.started`, { force: true });
    process.kill(pid, 'SIGUSR2');
    await waitForFile(`${profileFile}.started`, 10_000);
    const cpu = cpuSecondsOf(pid);
    await storm();
    await untilQuiet(pid);
    const used = cpuSecondsOf(pid) - cpu;
    process.kill(pid, 'SIGUSR2');
    const profile = await readProfile(profileFile);
    writeFileSync(profileFile.replace(/\.cpuprofile$/, `-${name}.cpuprofile`), JSON.stringify(profile));
    const split = splitProfile(profile, {
      categories: CATEGORIES,
      categoryOf,
      nodeInternals: 'Node internals (node:*, V8 builtins)',
      top: 30,
    });
    writeFileSync(join(outDir, `storm-${CLIENTS}-${stamp}-${name}.split.json`), `${JSON.stringify(split, null, 2)}\n`);
    return splitMarkdown(`${name} storm`, split, used);
  };

  const join1 = await profiled('join', async () => {
    const opening: Array<Promise<WebSocket | undefined>> = [];
    const start = performance.now();
    for (let i = 0; i < CLIENTS; i += 1) {
      opening.push(openClient(url));
      await sleep(Math.max(0, start + ((i + 1) * 1000) / RATE - performance.now()));
    }
    for (const socket of await Promise.all(opening)) if (socket !== undefined) sockets.push(socket);
  });
  const leave = await profiled('leave', async () => {
    const start = performance.now();
    for (const [i, socket] of sockets.entries()) {
      socket.close();
      await sleep(Math.max(0, start + ((i + 1) * 1000) / RATE - performance.now()));
    }
  });
  const markdown = `## CPU profile of the emulator's process in the presence storms

${CLIENTS} clients, ${RATE} a second, PRESENCE_WINDOW_MS=${values.window}, sampled every ${values['interval-us']} µs.

${join1}
${leave}`;
  writeFileSync(join(outDir, `storm-${CLIENTS}-${stamp}.md`), markdown);
  console.log(markdown);
} finally {
  for (const socket of sockets) socket.terminate();
  await stack.stop();
  await rm(join(projectRoot, buildFolder), { recursive: true, force: true });
  await rm(`${profileFile}.started`, { force: true });
  await rm(profileFile, { force: true });
}
