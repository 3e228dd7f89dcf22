/**
 * Part 4: per-handler bundles built with serverless.yml's esbuild options, their size, what fills them,
 * and module initialisation in a fresh Node process (median of repeated runs).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { parse } from 'yaml';
import { projectRoot } from '../scripts/local-stack.ts';
import { median, quantile } from './stats.ts';

// The message handler last: the report's table of what fills a bundle is the last one's.
export const HANDLERS = ['authorizer', 'connect', 'disconnect', 'message'] as const;
type HandlerName = (typeof HANDLERS)[number];

interface ServerlessEsbuild {
  readonly bundle?: boolean;
  readonly minify?: boolean;
  readonly sourcemap?: boolean | string;
  readonly format?: 'esm' | 'cjs';
  readonly platform?: 'node';
  readonly mainFields?: string[];
  readonly target?: string;
  readonly outputFileExtension?: string;
  readonly exclude?: string[];
  readonly banner?: { js?: string };
  readonly legalComments?: BuildOptions['legalComments'];
  readonly alias?: Record<string, string>;
  /** A file whose default export is the plugin list, as serverless-esbuild takes it. */
  readonly plugins?: string;
}

/** esbuild options as `custom.esbuild` in serverless.yml sets them, read from the file so they stay in step. */
export async function deployedBuildOptions(): Promise<BuildOptions> {
  const service = parse(readFileSync(join(projectRoot, 'serverless.yml'), 'utf8')) as {
    custom?: { esbuild?: ServerlessEsbuild };
  };
  const options = service.custom?.esbuild ?? {};
  const banner = options.banner?.js;
  return {
    bundle: options.bundle ?? true,
    minify: options.minify ?? false,
    // A variable (the profiler's source maps) resolves to its fallback, false, as deployed.
    sourcemap: options.sourcemap === true,
    format: options.format ?? 'cjs',
    platform: options.platform ?? 'node',
    mainFields: options.mainFields,
    target: options.target ?? 'node18',
    external: options.exclude ?? ['aws-sdk'],
    ...(banner === undefined ? {} : { banner: { js: banner } }),
    ...(options.legalComments === undefined ? {} : { legalComments: options.legalComments }),
    ...(options.alias === undefined ? {} : { alias: options.alias }),
    ...(options.plugins === undefined
      ? {}
      : {
          plugins: ((await import(pathToFileURL(join(projectRoot, options.plugins)).href)) as { default: Plugin[] })
            .default,
        }),
  };
}

/** The options issue 12 added to serverless.yml, taken away again: the same run's "before". */
function withoutIssue12Options(base: BuildOptions): BuildOptions {
  const options = { ...base };
  delete options.alias;
  delete options.plugins;
  delete options.legalComments;
  return options;
}

interface Variant {
  readonly name: string;
  readonly description: string;
  readonly handlers: readonly HandlerName[];
  readonly options: (base: BuildOptions) => BuildOptions;
}

const VARIANTS: readonly Variant[] = [
  {
    name: 'as deployed',
    description: 'serverless.yml custom.esbuild: everything bundled, AWS SDK included',
    handlers: HANDLERS,
    options: (base) => base,
  },
  {
    name: 'SDK from the runtime',
    description:
      '@aws-sdk/* and @smithy/* external, as if taken from the nodejs24.x runtime (init loads them from node_modules)',
    handlers: HANDLERS,
    options: (base) => ({ ...base, external: [...(base.external ?? []), '@aws-sdk/*', '@smithy/*'] }),
  },
  {
    name: 'without the bundle options',
    description:
      'as deployed but without the esbuild options of issue 12 (the credential chain alias, built-ins through require, no legal comments)',
    handlers: HANDLERS,
    options: withoutIssue12Options,
  },
];

export interface PackageShare {
  readonly name: string;
  readonly bytes: number;
}

export interface BundleFigure {
  readonly variant: string;
  readonly handler: HandlerName;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly importMedianMs: number;
  readonly importP90Ms: number;
  readonly firstCallMedianMs: number;
  readonly processMedianMs: number;
  readonly packages: PackageShare[];
}

export interface ColdStartResult {
  readonly bundles: BundleFigure[];
  readonly variants: ReadonlyArray<{ name: string; description: string }>;
  readonly emptyModule: { importMedianMs: number; processMedianMs: number };
  readonly runs: number;
}

function packageOf(path: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (match?.[1] !== undefined) return match[1];
  if (path.startsWith('src/')) return 'src (ours)';
  return path;
}

function packageShares(metafile: Metafile): PackageShare[] {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const name = packageOf(path);
      totals.set(name, (totals.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return [...totals.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

const PROBE = `
const started = performance.now();
const module = await import(process.env.BENCH_BUNDLE);
const imported = performance.now();
let firstCallMs = null;
if (typeof module.handler === 'function') {
  await module.handler({}, {});
  firstCallMs = performance.now() - imported;
}
process.stdout.write('BENCH ' + JSON.stringify({ importMs: imported - started, firstCallMs }) + '\\n');
`;

interface Probe {
  readonly importMs: number;
  readonly firstCallMs: number | null;
  readonly processMs: number;
}

/** Imports the bundle in a fresh process; the first call gets an event without a connection id, so it needs no network. */
function probe(bundlePath: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', PROBE], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env['PATH'] ?? '',
        BENCH_BUNDLE: pathToFileURL(bundlePath).href,
        CHAT_TABLE: 'bench-chat',
        WEBSOCKET_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:9/',
        FANOUT_QUEUE_URL: 'http://127.0.0.1:9/000000000000/fanout',
        PRESENCE_QUEUE_URL: 'http://127.0.0.1:9/000000000000/presence',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'bench',
        AWS_SECRET_ACCESS_KEY: 'bench',
        AUTH_JWT_SECRET: 'a-bench-secret-of-at-least-32-characters',
        AUTH_AUDIENCE: 'bench',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const processMs = performance.now() - started;
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH '));
      if (code !== 0 || line === undefined) {
        reject(new Error(`init probe of ${bundlePath} exited with ${code}: ${stderr.slice(-1000)}`));
        return;
      }
      const parsed = JSON.parse(line.slice(6)) as { importMs: number; firstCallMs: number | null };
      resolve({ ...parsed, processMs });
    });
  });
}

export function coldStartSteps(): number {
  return VARIANTS.reduce((sum, variant) => sum + variant.handlers.length, 0) + 1;
}

export async function runColdStart(
  outDir: string,
  runs: number,
  onStep: (label: string) => void,
  onDone: () => void,
): Promise<ColdStartResult> {
  const base = await deployedBuildOptions();
  mkdirSync(outDir, { recursive: true });
  const emptyPath = join(outDir, 'empty.mjs');
  writeFileSync(emptyPath, 'export {};\n');

  const built: Array<{ variant: string; handler: HandlerName; outfile: string; metafile: Metafile }> = [];
  for (const variant of VARIANTS) {
    for (const handler of variant.handlers) {
      onStep(`cold start: building ${variant.name} ${handler}`);
      const outfile = join(outDir, variant.name.replaceAll(' ', '-'), `${handler}.mjs`);
      const result = await build({
        ...variant.options(base),
        absWorkingDir: projectRoot,
        entryPoints: [join(projectRoot, 'src', 'handlers', 'functions', `${handler}.ts`)],
        outfile,
        metafile: true,
        logLevel: 'silent',
      });
      built.push({ variant: variant.name, handler, outfile, metafile: result.metafile });
      onDone();
    }
  }

  // Round after round, every bundle once per round: on a shared machine, load that comes and goes then falls on
  // every variant alike, and the medians compare within one run.
  onStep(`cold start: ${runs} rounds of ${built.length + 1} fresh processes`);
  const empty: Probe[] = [];
  const measured: Probe[][] = built.map(() => []);
  for (let round = 0; round < runs; round += 1) {
    empty.push(await probe(emptyPath));
    for (const [i, bundle] of built.entries()) measured[i]?.push(await probe(bundle.outfile));
  }
  onDone();

  const bundles: BundleFigure[] = built.map((bundle, i) => {
    const probes = measured[i] ?? [];
    const code = readFileSync(bundle.outfile);
    return {
      variant: bundle.variant,
      handler: bundle.handler,
      bytes: code.byteLength,
      gzipBytes: gzipSync(code, { level: 9 }).byteLength,
      importMedianMs: median(probes.map((p) => p.importMs)),
      importP90Ms: quantile(
        probes.map((p) => p.importMs),
        0.9,
      ),
      firstCallMedianMs: median(probes.map((p) => p.firstCallMs ?? Number.NaN)),
      processMedianMs: median(probes.map((p) => p.processMs)),
      packages: packageShares(bundle.metafile),
    };
  });
  return {
    bundles,
    variants: VARIANTS.map(({ name, description }) => ({ name, description })),
    emptyModule: {
      importMedianMs: median(empty.map((p) => p.importMs)),
      processMedianMs: median(empty.map((p) => p.processMs)),
    },
    runs,
  };
}
