/**
 * `npm run profile`: a CPU profile of the local stack's emulator process (serverless-offline in process, so the
 * handlers run in it) while it serves broadcasts to N real clients, and the split of its CPU between our code, the
 * AWS SDK, the handlers' other libraries, the emulator and Node itself. Loopback only; it stops by itself.
 *
 *   node bench/profile.ts [--clients 1000] [--messages 10] [--interval-us 200] [--out .results/profile]
 *
 * Node refuses --cpu-prof in NODE_OPTIONS, so bench/profile-preload.ts is preloaded with --import and drives
 * node:inspector's profiler on SIGUSR2, once the clients are connected and a first broadcast has warmed the handlers.
 * The bundles are built with linked source maps (CHAT_ESBUILD_SOURCEMAP) so that samples inside a bundle are
 * attributed to the source each came from. Profiles are written under .results/, which git ignores.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { projectRoot, startStackOnFreePorts } from '../scripts/local-stack.ts';
import { closeAll, connectAll, emulatorPid, type Receiver } from './e2e.ts';
import {
  type CallFrame,
  type CpuProfile,
  type ProfileSplit,
  sourceMapOf,
  sourceOf,
  splitProfile,
  waitForFile,
} from './cpu-profile.ts';
import { markdownTable, median } from './stats.ts';

/** Where a sample's self time goes. */
const CATEGORIES = [
  'ours (src/)',
  'AWS SDK (@aws-sdk, @smithy)',
  'handler libraries (zod, Middy, Powertools, ...)',
  'emulator (serverless-offline, hapi, ws, osls)',
  'Node internals (node:*, V8 builtins)',
  'garbage collector',
  'program (V8, unattributed)',
] as const;
type Category = (typeof CATEGORIES)[number];

/** A frame's category; `profiler` for the preload's own work (starting and stopping, writing the profile), not counted. */
function categoryOf(frame: CallFrame): Category | 'profiler' | undefined {
  if (frame.functionName === '(garbage collector)') return 'garbage collector';
  if (frame.functionName === '(program)') return 'program (V8, unattributed)';
  if (frame.functionName === '(idle)' || frame.functionName === '(root)') return undefined;
  if (!frame.url.startsWith('file:')) return 'Node internals (node:*, V8 builtins)';
  const source = sourceOf(frame);
  if (source.endsWith('/bench/profile-preload.ts')) return 'profiler';
  if (/node_modules\/@(aws-sdk|smithy|aws-crypto)\//.test(source)) return 'AWS SDK (@aws-sdk, @smithy)';
  const bundled = sourceMapOf(frame.url) !== undefined;
  if (bundled && source.includes('node_modules/')) return 'handler libraries (zod, Middy, Powertools, ...)';
  if (bundled || (/\/src\//.test(source) && !source.includes('node_modules/'))) return 'ours (src/)';
  return 'emulator (serverless-offline, hapi, ws, osls)';
}

function splitMarkdown(split: ProfileSplit<Category>): string {
  const share = (ms: number): string => `${((ms / split.busyMs) * 100).toFixed(1)}%`;
  return `${markdownTable(
    ['where the CPU went', 'self time', 'share', 'Node charged to its caller', 'share'],
    CATEGORIES.map((c) => [
      c,
      `${split.self[c].toFixed(0)} ms`,
      share(split.self[c]),
      `${split.byCaller[c].toFixed(0)} ms`,
      share(split.byCaller[c]),
    ]),
  )}

${split.busyMs.toFixed(0)} ms of CPU sampled (not counted: ${split.idleMs.toFixed(0)} ms idle, ${split.profilerMs.toFixed(0)} ms in the profiler itself). Heaviest functions by self time:

${markdownTable(
  ['function', 'source', 'category', 'self'],
  split.top.map((f) => [f.name, f.where, f.category, `${f.ms.toFixed(1)} ms`]),
)}`;
}

/** Sends `text` from the first receiver and waits until every receiver has it, or the deadline. */
async function broadcast(
  receivers: readonly Receiver[],
  text: string,
  timeoutMs: number,
): Promise<{ ms: number; lost: number }> {
  const sentAt = performance.now();
  receivers[0]?.socket.send(JSON.stringify({ action: 'sendmessage', text }));
  const deadline = sentAt + timeoutMs;
  while (performance.now() < deadline && receivers.some((r) => !r.arrivals.has(text))) await sleep(5);
  const lost = receivers.filter((r) => !r.arrivals.has(text)).length;
  return { ms: performance.now() - sentAt, lost };
}

async function profileStack(clients: number, messages: number, intervalMicros: number, outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\..*/, '');
  const profileFile = join(outDir, `stack-${clients}-${stamp}.cpuprofile`);
  const buildFolder = join('.esbuild', `profile-${process.pid}`);
  const preload = join(projectRoot, 'bench', 'profile-preload.ts');
  console.log(`Starting the local stack with the profiler preloaded (bundles in ${buildFolder})...`);
  const stack = await startStackOnFreePorts({
    buildFolder,
    handlerEnv: {
      NODE_OPTIONS: `--import=${preload}`,
      CHAT_PROFILE_OUT: profileFile,
      CHAT_PROFILE_INTERVAL_US: String(intervalMicros),
      CHAT_ESBUILD_SOURCEMAP: 'linked',
    },
  });
  let receivers: Receiver[] = [];
  try {
    const pid = emulatorPid(Number(new URL(stack.websocketUrl).port));
    if (pid === undefined) throw new Error('cannot find the emulator process');
    const connected = await connectAll(stack.websocketUrl, clients);
    receivers = connected.receivers;
    console.log(
      `${receivers.length} of ${clients} clients connected in ${connected.seconds.toFixed(1)} s; warming up...`,
    );
    const timeoutMs = 10_000 + clients * 20;
    await broadcast(receivers, 'profile-warm-up', timeoutMs);

    process.kill(pid, 'SIGUSR2');
    await waitForFile(`${profileFile}.started`, 10_000);
    const runs: Array<{ ms: number; lost: number }> = [];
    for (let m = 0; m < messages; m += 1) runs.push(await broadcast(receivers, `profile-${m}`, timeoutMs));
    process.kill(pid, 'SIGUSR2');
    await waitForFile(profileFile, 30_000);
    // The file appears when writing starts; wait until it parses.
    let profile: CpuProfile | undefined;
    for (let attempt = 0; profile === undefined && attempt < 100; attempt += 1) {
      try {
        profile = JSON.parse(readFileSync(profileFile, 'utf8')) as CpuProfile;
      } catch {
        await sleep(100);
      }
    }
    if (profile === undefined) throw new Error(`could not read ${profileFile}`);
    // The bundles and their source maps are read now, before the stack's build folder goes.
    const split = splitProfile(profile, {
      categories: CATEGORIES,
      categoryOf,
      nodeInternals: 'Node internals (node:*, V8 builtins)',
      top: 25,
    });
    const lost = runs.reduce((sum, r) => sum + r.lost, 0);
    const markdown = `## CPU profile of the emulator's process

${receivers.length} clients, ${messages} broadcasts one after another (last delivery median ${median(runs.map((r) => r.ms)).toFixed(0)} ms,
${lost} deliveries lost), profiled with node:inspector at ${intervalMicros} µs. Self time of each sample goes to the script of
its frame, a bundle's samples to their source through its source map; the second pair of columns charges Node's own
time (http, streams, timers, crypto) to the nearest caller outside Node.

${splitMarkdown(split)}
`;
    writeFileSync(join(outDir, `stack-${clients}-${stamp}.md`), markdown);
    writeFileSync(join(outDir, `stack-${clients}-${stamp}.split.json`), `${JSON.stringify(split, null, 2)}\n`);
    console.log(`\n${markdown}\nProfile: ${relative(projectRoot, profileFile)} (open it in Chrome DevTools)`);
  } finally {
    await closeAll(receivers);
    await stack.stop();
    await rm(join(projectRoot, buildFolder), { recursive: true, force: true });
    await rm(`${profileFile}.started`, { force: true });
  }
}

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    messages: { type: 'string', default: '10' },
    'interval-us': { type: 'string', default: '200' },
    out: { type: 'string', default: join('.results', 'profile') },
  },
  strict: true,
});

function positive(raw: string, name: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${raw}"`);
  return n;
}

await profileStack(
  positive(values.clients, 'clients'),
  positive(values.messages, 'messages'),
  positive(values['interval-us'], 'interval-us'),
  join(projectRoot, values.out),
);
