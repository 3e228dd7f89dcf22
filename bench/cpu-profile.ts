/** What `npm run profile` and bench/profile-storm.ts share: the CPU profile's shape and where a frame's code comes from. */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

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
