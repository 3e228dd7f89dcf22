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

export const HANDLERS = ['connect', 'disconnect', 'message'] as const;
type HandlerName = (typeof HANDLERS)[number];

interface ServerlessEsbuild {
  readonly bundle?: boolean;
  readonly minify?: boolean;
  readonly sourcemap?: boolean;
  readonly format?: 'esm' | 'cjs';
  readonly platform?: 'node';
  readonly mainFields?: string[];
  readonly target?: string;
  readonly outputFileExtension?: string;
  readonly exclude?: string[];
  readonly banner?: { js?: string };
}

/** esbuild options as `custom.esbuild` in serverless.yml sets them, read from the file so they stay in step. */
export function deployedBuildOptions(): BuildOptions {
  const service = parse(readFileSync(join(projectRoot, 'serverless.yml'), 'utf8')) as {
    custom?: { esbuild?: ServerlessEsbuild };
  };
  const options = service.custom?.esbuild ?? {};
  const banner = options.banner?.js;
  return {
    bundle: options.bundle ?? true,
    minify: options.minify ?? false,
    sourcemap: options.sourcemap ?? false,
    format: options.format ?? 'cjs',
    platform: options.platform ?? 'node',
    mainFields: options.mainFields,
    target: options.target ?? 'node18',
    external: options.exclude ?? ['aws-sdk'],
    ...(banner === undefined ? {} : { banner: { js: banner } }),
  };
}

/** Stands in for the management API client in handlers that never send, as a split composition root would. */
const withoutManagementClient: Plugin = {
  name: 'bench-without-management-client',
  setup(builder) {
    builder.onResolve({ filter: /^@aws-sdk\/client-apigatewaymanagementapi$/ }, (args) => ({
      path: args.path,
      namespace: 'bench-stub',
    }));
    builder.onLoad({ filter: /.*/, namespace: 'bench-stub' }, () => ({
      contents: 'export class ApiGatewayManagementApiClient {} export class PostToConnectionCommand {}',
      loader: 'js',
    }));
  },
};

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
    description: '@aws-sdk/* and @smithy/* external, as if taken from the nodejs24.x runtime (init loads them from node_modules)',
    handlers: HANDLERS,
    options: (base) => ({ ...base, external: [...(base.external ?? []), '@aws-sdk/*', '@smithy/*'] }),
  },
  {
    name: 'no management client',
    description: 'connect/disconnect bundled without @aws-sdk/client-apigatewaymanagementapi (a per-handler composition root)',
    handlers: ['connect', 'disconnect'],
    options: (base) => ({ ...base, plugins: [withoutManagementClient] }),
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
        CONNECTIONS_TABLE: 'bench-connections',
        WEBSOCKET_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:9/',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'bench',
        AWS_SECRET_ACCESS_KEY: 'bench',
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
  const base = deployedBuildOptions();
  const bundles: BundleFigure[] = [];
  const probes = async (path: string): Promise<Probe[]> => {
    const results: Probe[] = [];
    for (let i = 0; i < runs; i += 1) results.push(await probe(path));
    return results;
  };

  onStep('cold start: empty module');
  mkdirSync(outDir, { recursive: true });
  const emptyPath = join(outDir, 'empty.mjs');
  writeFileSync(emptyPath, 'export {};\n');
  const empty = await probes(emptyPath);
  onDone();

  for (const variant of VARIANTS) {
    for (const handler of variant.handlers) {
      onStep(`cold start: ${variant.name} ${handler}`);
      const outfile = join(outDir, variant.name.replaceAll(' ', '-'), `${handler}.mjs`);
      const result = await build({
        ...variant.options(base),
        absWorkingDir: projectRoot,
        entryPoints: [join(projectRoot, 'src', 'handlers', 'functions', `${handler}.ts`)],
        outfile,
        metafile: true,
        logLevel: 'silent',
      });
      const code = readFileSync(outfile);
      const measured = await probes(outfile);
      bundles.push({
        variant: variant.name,
        handler,
        bytes: code.byteLength,
        gzipBytes: gzipSync(code, { level: 9 }).byteLength,
        importMedianMs: median(measured.map((p) => p.importMs)),
        importP90Ms: quantile(measured.map((p) => p.importMs), 0.9),
        firstCallMedianMs: median(measured.map((p) => p.firstCallMs ?? Number.NaN)),
        processMedianMs: median(measured.map((p) => p.processMs)),
        packages: packageShares(result.metafile),
      });
      onDone();
    }
  }
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
