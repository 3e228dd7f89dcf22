/**
 * What `npm run profile` and bench/profile-storm.ts share: the CPU profile's shape, where a frame's code comes from,
 * and the split of a profile's time by category.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../scripts/local-stack.ts';

export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: number[];
}

/** A `.cpuprofile` as node:inspector's Profiler writes it. */
export interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** The source map of a bundle, read once; undefined for a script that has none. */
const maps = new Map<string, SourceMap | undefined>();
export function sourceMapOf(url: string): SourceMap | undefined {
  if (maps.has(url)) return maps.get(url);
  let map: SourceMap | undefined;
  try {
    const mapPath = `${fileURLToPath(url)}.map`;
    if (existsSync(mapPath))
      map = new SourceMap(JSON.parse(readFileSync(mapPath, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  } catch {
    map = undefined;
  }
  maps.set(url, map);
  return map;
}

/** The file a frame's code comes from: through the bundle's source map when it has one. */
export function sourceOf(frame: CallFrame): string {
  const map = sourceMapOf(frame.url);
  if (map === undefined) return frame.url;
  const entry = map.findEntry(frame.lineNumber, frame.columnNumber);
  return 'originalSource' in entry ? entry.originalSource : frame.url;
}

/** Resolves once the file exists; throws after `timeoutMs`. */
export async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** The packages of the local queue (fauxqs and the web server it runs on), which the emulator's process also runs. */
export const QUEUE_PACKAGES =
  /node_modules\/(fauxqs|fastify|@fastify|valibot|toad-cache|avvio|find-my-way|light-my-request|pino|fast-json-stringify|fast-querystring|abstract-logging|process-warning|secure-json-parse|rfdc|fast-uri|ajv|json-schema-ref-resolver|safe-regex2|ret|fast-decode-uri-component|fast-deep-equal|cookie|real-require|thread-stream|sonic-boom|on-exit-leak-free|quick-format-unescaped|atomic-sleep|@pinojs|fastq|reusify)\//;

/** The profile a process writes at its exit, once it is there and whole (it may still be being written). */
export async function readProfile(path: string): Promise<CpuProfile> {
  await waitForFile(path, 60_000);
  for (let attempt = 0; attempt < 200; attempt += 1) {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`could not read ${path}`);
}

/** A profile's time by category, each script's code sorted into one by its caller's `categoryOf`. */
export interface ProfileSplit<C extends string> {
  readonly self: Record<C, number>;
  /** The same time, with Node's own (the `nodeInternals` category) charged to its nearest caller outside Node. */
  readonly byCaller: Record<C, number>;
  /** CPU milliseconds sampled, idle and the profiler's own work excluded. */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly profilerMs: number;
  /** The heaviest functions by self time, with their category. */
  readonly top: ReadonlyArray<{ name: string; where: string; category: C; ms: number }>;
}

export interface SplitOptions<C extends string> {
  readonly categories: readonly C[];
  /** A frame's category; `profiler` for the preload's own work (not counted), undefined for idle and the root. */
  readonly categoryOf: (frame: CallFrame) => C | 'profiler' | undefined;
  /** The category whose time `byCaller` charges to the nearest caller of another category. */
  readonly nodeInternals: C;
  /** How many of the heaviest functions `top` lists. */
  readonly top: number;
}

/** Self time by category, and again with Node's time charged to the nearest caller outside Node. */
export function splitProfile<C extends string>(profile: CpuProfile, options: SplitOptions<C>): ProfileSplit<C> {
  const { categories, categoryOf, nodeInternals } = options;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  const emptySplit = (): Record<C, number> => Object.fromEntries(categories.map((c) => [c, 0])) as Record<C, number>;
  const self = emptySplit();
  const byCaller = emptySplit();
  const functions = new Map<string, { name: string; where: string; category: C; ms: number }>();
  let idleMs = 0;
  let profilerMs = 0;
  for (const [id, micros] of selfMicros) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const ms = micros / 1000;
    const category = categoryOf(node.callFrame);
    if (category === undefined) {
      if (node.callFrame.functionName === '(idle)') idleMs += ms;
      continue;
    }
    let charged: C | 'profiler' = category;
    if (category === nodeInternals) {
      for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
        const frame = byId.get(up)?.callFrame;
        const upCategory = frame === undefined ? undefined : categoryOf(frame);
        if (upCategory !== undefined && upCategory !== category) {
          charged = upCategory;
          break;
        }
      }
    }
    if (category === 'profiler' || charged === 'profiler') {
      profilerMs += ms;
      continue;
    }
    self[category] += ms;
    byCaller[charged] += ms;
    const source = node.callFrame.url.startsWith('file:') ? sourceOf(node.callFrame) : node.callFrame.url;
    const where = source.startsWith('file:')
      ? relative(projectRoot, fileURLToPath(source))
      : source.replace(/^(\.\.\/)+/, '');
    const key = `${node.callFrame.functionName}@${where}`;
    const entry = functions.get(key) ?? { name: node.callFrame.functionName || '(anonymous)', where, category, ms: 0 };
    entry.ms += ms;
    functions.set(key, entry);
  }
  const busyMs = categories.reduce((sum, c) => sum + self[c], 0);
  const top = [...functions.values()].sort((a, b) => b.ms - a.ms).slice(0, options.top);
  return { self, byCaller, busyMs, idleMs, profilerMs, top };
}
