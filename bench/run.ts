/**
 * `npm run bench`: the benchmark suite of issue 6. Writes a markdown report, the chart (SVG and PNG) and raw JSON under
 * .results/bench/, prints the summary to stdout and a progress bar to stderr.
 *
 *   node bench/run.ts [--part fanout|dynamodb|coldstart|e2e|messenger|shards|latency]... [--sizes 1000,10000,100000] [--quick]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../scripts/local-stack.ts';
import { type ColdStartResult, coldStartSteps, runColdStart } from './coldstart.ts';
import { type DynamoDbResult, runDynamoDb } from './dynamodb.ts';
import { type E2eResult, e2eSteps, runE2e } from './e2e.ts';
import {
  DEFAULT_LATENCY_PLAN,
  delayModeOf,
  type LatencyPlan,
  type LatencyResult,
  latencySteps,
  QUICK_LATENCY_PLAN,
  runLatency,
  writeLatencyReport,
} from './latency.ts';
import {
  DEFAULT_CPU_US_PER_DELIVERY,
  DEFAULT_LATENCY,
  fanoutRuns,
  INTEGRATION_TIMEOUT_MS,
  largestRoom,
  runFanout,
  vcpuAt,
} from './fanout.ts';
import type { FanoutResult } from './fanout-worker.ts';
import { chartPng, chartSvg } from './chart.ts';
import { ProgressBar } from './progress.ts';
import { type MessengerReport, messengerMarkdown, messengerSteps, runMessenger } from './messenger.ts';
import { formatBytes, formatInt, formatMs, markdownTable } from './stats.ts';
import {
  runShards,
  type ShardsReport,
  shardsMarkdown,
  shardsSteps,
  shardsSummary,
  shardsTargets,
} from './sharded-fanout.ts';

const PARTS = ['fanout', 'dynamodb', 'coldstart', 'e2e', 'messenger', 'shards', 'latency'] as const;
type Part = (typeof PARTS)[number];

const { values } = parseArgs({
  options: {
    part: { type: 'string', multiple: true },
    sizes: { type: 'string' },
    'fanout-sizes': { type: 'string' },
    'db-sizes': { type: 'string' },
    'e2e-sizes': { type: 'string' },
    'latency-sizes': { type: 'string' },
    rounds: { type: 'string' },
    'db-delay': { type: 'string' },
    'delay-mode': { type: 'string' },
    'post-delay': { type: 'string' },
    plain: { type: 'boolean', default: false },
    concurrency: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'latency-median': { type: 'string' },
    'latency-sigma': { type: 'string' },
    'tail-share': { type: 'string' },
    'tail-ms': { type: 'string' },
    'gone-share': { type: 'string' },
    'throttled-share': { type: 'string' },
    rate: { type: 'string' },
    burst: { type: 'string' },
    'page-size': { type: 'string' },
    runs: { type: 'string' },
    messages: { type: 'string' },
    'messenger-sends': { type: 'string' },
    'messenger-runs': { type: 'string' },
    'no-dynamodb-local': { type: 'boolean', default: false },
    'no-reject-mode': { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (values.help) {
  console.log(`usage: npm run bench -- [options]
  --part P            fanout | dynamodb | coldstart | e2e | messenger | shards | latency (repeatable; default fanout, dynamodb, coldstart)
  --sizes a,b,c       sizes for every selected part (or --fanout-sizes, --db-sizes, --e2e-sizes, --latency-sizes)
  --concurrency a,b   fan-out concurrency values (default 50,200,1000)
  --quick             a small smoke run
  --latency-median MS --latency-sigma S --tail-share F --tail-ms MS   simulated PostToConnection latency
  --gone-share F --throttled-share F --rate PER_S --burst N --page-size N   simulated answers and budget
  --runs N            fresh processes per bundle for the cold start (default 15)
  --messages M        messages per size in the end-to-end part (default 20), per round in the latency part (default 15)
  --rounds R          rounds per size in the latency part, alternating ours and the floor (default 3)
  --db-delay MS --post-delay MS   latency part: added to every DynamoDB request (default 5) and PostToConnection (default 15)
  --delay-mode M      latency part: added (the delay on top of dynalite's time) or total (a DynamoDB round trip of at least the delay)
  --plain             latency part: send {action, text} without the page's clientMsgId and clientId
  --messenger-sends N --messenger-runs R   sends per measurement (default 20000) and runs in the messenger part (default 3)
  --no-dynamodb-local skip DynamoDB Local (Java) in the dynamodb part
  --no-reject-mode    skip the fan-out runs where the budget answers 429 instead of pacing
  --out DIR           results folder (default .results/bench)`);
  process.exit(0);
}

function list(raw: string | undefined, fallback: readonly number[]): number[] {
  if (raw === undefined) return [...fallback];
  const parsed = raw.split(',').map((s) => Number(s.replaceAll('_', '').trim()));
  if (parsed.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`not a list of positive integers: ${raw}`);
  return parsed;
}

function number(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const parsed = Number(raw);
  if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`not a non-negative number: ${raw}`);
  return parsed;
}

const quick = values.quick;

/** The message function's memorySize in serverless.yml: its share of a vCPU bounds a fan-out's CPU. */
function messageMemoryMb(): number {
  const yml = readFileSync(join(projectRoot, 'serverless.yml'), 'utf8');
  const block = /\n {2}message:\n((?: {4}.*\n|\s*\n)+)/.exec(yml)?.[1] ?? '';
  const size = /\n {4}memorySize: (\d+)/.exec(`\n${block}`)?.[1];
  if (size === undefined) throw new Error('serverless.yml: no memorySize for the message function');
  return Number(size);
}
const parts: Part[] = (values.part ?? ['fanout', 'dynamodb', 'coldstart']).map((p) => {
  if (!(PARTS as readonly string[]).includes(p)) throw new Error(`unknown part "${p}"; use ${PARTS.join(', ')}`);
  return p as Part;
});
const sizesFor = (specific: string | undefined, normal: number[], small: number[]): number[] =>
  list(specific ?? values.sizes, quick ? small : normal);

const outDir = values.out ?? join(projectRoot, '.results', 'bench');
mkdirSync(outDir, { recursive: true });

const fanoutPlan = {
  sizes: sizesFor(values['fanout-sizes'], [1000, 10_000, 100_000], [1000, 10_000]),
  concurrencies: list(values.concurrency, quick ? [50, 1000] : [50, 200, 1000]),
  latency: {
    medianMs: number(values['latency-median'], DEFAULT_LATENCY.medianMs),
    sigma: number(values['latency-sigma'], DEFAULT_LATENCY.sigma),
    tailShare: number(values['tail-share'], DEFAULT_LATENCY.tailShare),
    tailMs: number(values['tail-ms'], DEFAULT_LATENCY.tailMs),
  },
  rateLimit: { perSecond: number(values.rate, 10_000), burst: number(values.burst, 100), maxAttempts: 3 },
  goneShare: number(values['gone-share'], 0.01),
  throttledShare: number(values['throttled-share'], 0.005),
  pageSize: number(values['page-size'], 1000),
  withRejectMode: !values['no-reject-mode'],
  cpuUsPerDelivery: DEFAULT_CPU_US_PER_DELIVERY,
  vcpu: vcpuAt(messageMemoryMb()),
};
const dbSizes = sizesFor(values['db-sizes'], [1000, 10_000], [100, 1000]);
const withDynamoDbLocal = !values['no-dynamodb-local'];
const coldStartRuns = number(values.runs, quick ? 3 : 15);
const e2eSizes = sizesFor(values['e2e-sizes'], [10, 100, 1000], [10, 100]);
const e2eMessages = number(values.messages, quick ? 5 : 20);
const latencyBase = quick ? QUICK_LATENCY_PLAN : DEFAULT_LATENCY_PLAN;
const latencyPlan: LatencyPlan = {
  sizes: sizesFor(values['latency-sizes'], [...DEFAULT_LATENCY_PLAN.sizes], [...QUICK_LATENCY_PLAN.sizes]),
  messages: number(values.messages, latencyBase.messages),
  rounds: number(values.rounds, latencyBase.rounds),
  dbDelayMs: number(values['db-delay'], latencyBase.dbDelayMs),
  postDelayMs: number(values['post-delay'], latencyBase.postDelayMs),
  delayMode: delayModeOf(values['delay-mode']),
  plain: values.plain,
};
const messengerPlan = {
  sends: number(values['messenger-sends'], quick ? 2000 : 20_000),
  inFlight: 200,
  runs: number(values['messenger-runs'], quick ? 1 : 3),
};

const shardsPlan = {
  n: quick ? 100_000 : 1_000_000,
  quick,
  budgetPerSecond: number(values.rate, 10_000),
  cpuUsPerDelivery: DEFAULT_CPU_US_PER_DELIVERY,
};
let fanoutParams = parts.includes('fanout') ? fanoutRuns(fanoutPlan) : [];
// One more run with the CPU charge spun, at the largest room that the charge lets one invocation serve in 29 s.
const spunRun = parts.includes('fanout') && !quick ? 1 : 0;
const dbTargets = withDynamoDbLocal ? 2 : 1;
const totalSteps =
  fanoutParams.length +
  spunRun +
  (parts.includes('dynamodb') ? dbTargets * (1 + dbSizes.length * 2) : 0) +
  (parts.includes('coldstart') ? coldStartSteps() : 0) +
  (parts.includes('e2e') ? e2eSteps(e2eSizes) : 0) +
  (parts.includes('messenger') ? messengerSteps(messengerPlan) : 0) +
  (parts.includes('shards') ? shardsSteps(shardsPlan) : 0) +
  (parts.includes('latency') ? latencySteps(latencyPlan) : 0);
const bar = new ProgressBar(totalSteps);

/** Counts the previous labelled step done whenever a new one starts. */
function stepper(): { step: (label: string) => void; end: () => void } {
  let open = false;
  return {
    step(label) {
      if (open) bar.tick();
      open = true;
      bar.step(label);
    },
    end() {
      if (open) bar.tick();
      open = false;
    },
  };
}

const started = new Date();
let fanout: FanoutResult[] = [];
let dynamodb: DynamoDbResult | undefined;
let coldStart: ColdStartResult | undefined;
let e2e: E2eResult | undefined;
let messenger: MessengerReport | undefined;
let shards: ShardsReport | undefined;
let latency: LatencyResult | undefined;

if (parts.includes('messenger')) {
  messenger = await runMessenger(
    messengerPlan,
    (label) => bar.step(label),
    () => bar.tick(),
  );
}
const measuredCpu = messenger?.summary.find((m) => m.variant === 'ours')?.cpuUsPerDelivery;
if (measuredCpu !== undefined) {
  fanoutPlan.cpuUsPerDelivery = measuredCpu;
  fanoutParams = parts.includes('fanout') ? fanoutRuns(fanoutPlan) : [];
}
const roomLimit = largestRoom(fanoutPlan.cpuUsPerDelivery, fanoutPlan.vcpu);
if (spunRun > 0 && fanoutParams[0] !== undefined) {
  fanoutParams.push({ ...fanoutParams[0], n: roomLimit, concurrency: 200, spin: true });
}
if (parts.includes('fanout')) {
  for (const params of fanoutParams) {
    bar.step(
      `fan-out N=${formatInt(params.n)} C=${params.concurrency} ${params.rateLimit.onLimit}${params.spin ? ' CPU spun' : ''}`,
    );
    fanout.push(await runFanout(params));
    bar.tick();
  }
}
if (parts.includes('dynamodb')) {
  const steps = stepper();
  dynamodb = await runDynamoDb(dbSizes, withDynamoDbLocal, steps.step);
  steps.end();
}
if (parts.includes('coldstart')) {
  coldStart = await runColdStart(
    join(outDir, 'bundles'),
    coldStartRuns,
    (label) => bar.step(label),
    () => bar.tick(),
  );
}
if (parts.includes('shards')) {
  shardsPlan.cpuUsPerDelivery = fanoutPlan.cpuUsPerDelivery;
  shards = await runShards(
    shardsPlan,
    (label) => bar.step(label),
    () => bar.tick(),
  );
}
if (parts.includes('e2e')) {
  const steps = stepper();
  e2e = await runE2e(e2eSizes, e2eMessages, steps.step);
  steps.end();
}
if (parts.includes('latency')) {
  const steps = stepper();
  latency = await runLatency(latencyPlan, steps.step);
  steps.end();
}
bar.finish();
fanout = fanout.sort((a, b) => (a.onLimit === b.onLimit ? 0 : a.onLimit === 'queue' ? -1 : 1));

// ---- targets ----
interface TargetRow {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | undefined;
}
const targets: TargetRow[] = [];
const yes = (met: boolean | undefined): string => (met === undefined ? 'n/a' : met ? 'met' : '**missed**');

if (fanout.length > 0) {
  const largest = Math.max(...fanout.filter((r) => !r.spun).map((r) => r.n));
  const spun = fanout.find((r) => r.spun);
  targets.push({
    target: `largest room one invocation serves within 29 s at ${fanoutPlan.vcpu.toFixed(2)} vCPU (${fanoutPlan.cpuUsPerDelivery.toFixed(0)} µs per delivery)`,
    measured: `${formatInt(roomLimit)} recipients${spun === undefined ? '' : `; spun run: ${formatMs(spun.wallMs)}, ${spun.correct ? 'correct' : 'INCORRECT'}`}`,
    met: undefined,
  });
  for (const r of fanout.filter((f) => f.n === largest && f.onLimit === 'queue' && !f.spun)) {
    targets.push({
      target: `fan-out N=${formatInt(largest)} C=${r.concurrency}: ≤ 1.2× bound, heap < 256 MB, all healthy served once`,
      measured: `${r.ratio.toFixed(2)}× (${formatMs(r.wallMs)} vs ${formatMs(r.boundMs)}), ${r.peakHeapMb.toFixed(0)} MB, ${r.correct ? 'correct' : 'INCORRECT'}`,
      met: largest >= 100_000 ? r.ratio <= 1.2 && r.peakHeapMb < 256 && r.correct : undefined,
    });
  }
}
if (dynamodb !== undefined) {
  const authority = dynamodb.listings.some((l) => l.target === 'DynamoDB Local') ? 'DynamoDB Local' : 'dynalite';
  const rows = Math.max(...dynamodb.listings.map((l) => l.rows));
  const listing = dynamodb.listings.find(
    (l) => l.target === authority && l.rows === rows && l.layout === 'as stored today' && l.pageSize.startsWith('1 MB'),
  );
  if (listing !== undefined) {
    targets.push({
      target: `broadcast listing at ${formatInt(rows)} rows ≤ 1.1× keys-only ideal (${authority})`,
      measured: `${listing.rcu} RCU vs ${listing.idealKeysOnlyRcu} ideal = ${listing.ratioToKeysOnly.toFixed(2)}×`,
      met: listing.ratioToKeysOnly <= 1.1,
    });
  }
  targets.push({
    target: 'no Scan in src/',
    measured: dynamodb.scanInSrc.length === 0 ? 'none found' : dynamodb.scanInSrc.join(', '),
    met: dynamodb.scanInSrc.length === 0,
  });
}
if (coldStart !== undefined) {
  for (const b of coldStart.bundles.filter((x) => x.variant === 'as deployed')) {
    targets.push({
      target: `${b.handler} bundle ≤ 150 KB minified`,
      measured: formatBytes(b.bytes),
      met: b.bytes <= 150 * 1024,
    });
    targets.push({
      target: `${b.handler} init ≤ 30 ms median`,
      measured: `${b.importMedianMs.toFixed(1)} ms (import, median of ${coldStart.runs})`,
      met: b.importMedianMs <= 30,
    });
  }
}
if (e2e !== undefined && e2e.rows.length > 0) {
  const largest = e2e.rows.filter((r) => r.server === 'chat stack').sort((a, b) => b.clients - a.clients)[0];
  if (largest !== undefined) {
    targets.push({
      target: `end to end: no lost message at N=${formatInt(largest.clients)}`,
      measured: `${largest.lost} lost of ${formatInt(largest.expected)}`,
      met: largest.clients >= 5000 ? largest.lost === 0 : largest.lost === 0 ? undefined : false,
    });
  }
}

if (shards !== undefined) targets.push(...shardsTargets(shards));
if (latency !== undefined) targets.push(...latency.targets);
if (messenger !== undefined) {
  const ours = messenger.summary.find((s) => s.variant === 'ours');
  const naive = messenger.summary.find((s) => s.variant === 'naive');
  if (ours !== undefined) {
    targets.push({
      target: 'messenger CPU per delivery ≤ 1.5× the signed floor (same run)',
      measured: `${ours.cpuUsPerDelivery.toFixed(0)} µs, ${ours.ratioToSignedFloor.toFixed(2)}× signed floor${naive === undefined ? '' : `, ${(ours.cpuUsPerDelivery / naive.cpuUsPerDelivery).toFixed(2)}× naive`}`,
      met: ours.ratioToSignedFloor <= 1.5,
    });
  }
}

// ---- report ----
const sections: string[] = [];
sections.push(`# Benchmark report

- started ${started.toISOString()}, took ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s
- ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GB, Node ${process.version}
- command: \`node bench/run.ts ${process.argv.slice(2).join(' ')}\`
- the machine is shared: read medians and ratios, not absolute times

![chart](chart.png)

## Targets

${markdownTable(
  ['target', 'measured', 'status'],
  targets.map((t) => [t.target, t.measured, yes(t.met)]),
)}`);

if (fanout.length > 0) {
  const l = fanoutPlan.latency;
  sections.push(`## Fan-out engine in process (part 2)

The real \`ChatService.post\` (its fan-out and \`runBounded\`) over the project's \`InMemoryConnectionRepository\` (page size ${fanoutPlan.pageSize}),
delivering through \`bench/simulated-messenger.ts\`: latency lognormal (median ${l.medianMs} ms, σ ${l.sigma}) plus
${(l.tailShare * 100).toFixed(1)}% of calls ${l.tailMs}-${2 * l.tailMs} ms slower; ${(fanoutPlan.goneShare * 100).toFixed(1)}% of recipients gone,
${(fanoutPlan.throttledShare * 100).toFixed(1)}% throttled on every attempt (3 attempts with the SDK's backoff, then \`DeliveryError('throttled')\`);
a ${formatInt(fanoutPlan.rateLimit.perSecond)}/s token bucket (burst ${fanoutPlan.rateLimit.burst}). \`queue\`: a call waits for its token (a paced
client); \`reject\`: an empty bucket answers 429 and the SDK's retry strategy (full-jitter backoff, retry quota 500) replays.
Each row is a fresh \`node --expose-gc\` process. Bound = max((attempts − burst) / rate, Σ service time / C), where service
time is the simulated round trips and backoff (token waits excluded). "served once" checks every healthy recipient got
exactly one call and the report's counts match the fates drawn.

CPU is charged at ${fanoutPlan.cpuUsPerDelivery.toFixed(0)} µs per attempt (the real messenger's CPU per delivery${messenger === undefined ? ', from bench/RESULTS-hot-path.md' : ', measured in this run'}) on ${fanoutPlan.vcpu.toFixed(2)} vCPU
(the message function's memorySize / 1,769 MB). "analytic" rows add it afterwards: CPU bound = attempts × CPU / vCPU, Lambda wall =
max(wall, CPU bound). The "spun" row busy-waits CPU / vCPU per attempt inside the simulated messenger, blocking the event loop as the
real work does, so its wall already includes the charge; it runs at the largest room that fits ${formatMs(INTEGRATION_TIMEOUT_MS)} by that bound
(${formatInt(roomLimit)}).

${markdownTable(
  [
    'N',
    'C',
    'budget',
    'wall',
    'bound (rate / latency)',
    'ratio',
    'mean service',
    'peak heap (baseline)',
    'peak RSS',
    'loop p99',
    'delivered / gone / failed',
    'healthy missed',
    'correct',
    'CPU charge',
    'CPU bound',
    'Lambda wall',
    'within 29 s',
  ],
  fanout.map((r) => [
    formatInt(r.n),
    String(r.concurrency),
    r.onLimit,
    formatMs(r.wallMs),
    `${formatMs(r.boundMs)} (${formatMs(r.rateBoundMs)} / ${formatMs(r.latencyBoundMs)})`,
    `${r.ratio.toFixed(2)}×`,
    `${r.meanServiceMs.toFixed(1)} ms`,
    `${r.peakHeapMb.toFixed(0)} MB (${r.baselineHeapMb.toFixed(0)})`,
    `${r.peakRssMb.toFixed(0)} MB`,
    `${r.loopDelayP99Ms.toFixed(1)} ms`,
    `${formatInt(r.delivered)} / ${formatInt(r.gone)} / ${formatInt(r.failed)}`,
    formatInt(r.healthyMissed),
    r.correct ? 'yes' : 'no',
    r.spun ? 'spun' : 'analytic',
    formatMs(r.cpuBoundMs),
    formatMs(r.lambdaWallMs),
    r.lambdaWallMs <= INTEGRATION_TIMEOUT_MS ? 'yes' : 'no',
  ]),
)}`);
}

if (dynamodb !== undefined) {
  sections.push(`## DynamoDB capacity (part 3)

Through the real \`DynamoDbConnectionRepository\`, with a client middleware that adds \`ReturnConsumedCapacity: 'TOTAL'\`
to each request and sums \`ConsumedCapacity\` from each response. Ideal = ⌈rows × item bytes / 4 KB⌉ × 0.5 RCU
(one eventually consistent read of the whole partition); "keys-only" counts only the table and index keys (\`pk\`, \`sk\`, \`gsi1pk\`, \`gsi1sk\`). Item bytes follow
DynamoDB's rules (attribute names + values; numbers ≈ 1 byte per 2 significant digits + 1). A Query is charged for
the items it reads, before \`FilterExpression\` and \`ProjectionExpression\`. Connection ids are 16 characters, as API
Gateway's are.${dynamodb.skipped.length > 0 ? `\n\nSkipped: ${dynamodb.skipped.join('; ')}` : ''}

Does the emulator report consumed capacity? ${Object.entries(dynamodb.reportsCapacity)
    .map(([k, v]) => `${k}: ${v ? 'yes' : 'no'}`)
    .join(', ')}.
Scan in src/: ${dynamodb.scanInSrc.length === 0 ? 'none' : dynamodb.scanInSrc.join(', ')}.

${markdownTable(
  ['target', 'operation', 'requests', 'mean units', 'max units', 'responses without capacity'],
  dynamodb.writes.map((w) => [
    w.target,
    w.operation,
    formatInt(w.requests),
    w.meanUnits.toFixed(2),
    String(w.maxUnits),
    String(w.missing),
  ]),
)}

${markdownTable(
  [
    'target',
    'rows as',
    'rows',
    'page size',
    'pages',
    'RCU',
    'item bytes',
    'ideal (stored items)',
    'ideal (keys only)',
    'ratio to keys-only',
    'listed',
    'time',
  ],
  dynamodb.listings.map((l) => [
    l.target,
    l.layout,
    formatInt(l.rows),
    l.pageSize,
    String(l.pages),
    String(l.rcu),
    String(l.itemBytes),
    String(l.idealStoredRcu),
    String(l.idealKeysOnlyRcu),
    `${l.ratioToKeysOnly.toFixed(2)}×`,
    formatInt(l.listed),
    formatMs(l.ms),
  ]),
)}`);
}

if (coldStart !== undefined) {
  const deployed = coldStart.bundles.filter((b) => b.variant === 'as deployed');
  const top = deployed[deployed.length - 1]?.packages.slice(0, 10) ?? [];
  const total = deployed[deployed.length - 1]?.bytes ?? 1;
  sections.push(`## Cold start (part 4)

Bundles built with serverless.yml's \`custom.esbuild\` options (read from the file), then imported in a fresh \`node\`
process ${coldStart.runs} times each: "import" is \`performance.now()\` around \`await import(bundle)\`; "first call" is the
first handler call with an event without a connection id (it builds the dependencies, then fails validation; no
network); "process" is spawn to exit. An empty module imports in ${coldStart.emptyModule.importMedianMs.toFixed(1)} ms
(process ${formatMs(coldStart.emptyModule.processMedianMs)}). Variants are measured here only; none is applied to src/.

${coldStart.variants.map((v) => `- **${v.name}**: ${v.description}`).join('\n')}

${markdownTable(
  ['variant', 'handler', 'minified', 'gzip', 'import median', 'import p90', 'first call median', 'process median'],
  coldStart.bundles.map((b) => [
    b.variant,
    b.handler,
    formatBytes(b.bytes),
    formatBytes(b.gzipBytes),
    `${b.importMedianMs.toFixed(1)} ms`,
    `${b.importP90Ms.toFixed(1)} ms`,
    `${b.firstCallMedianMs.toFixed(1)} ms`,
    formatMs(b.processMedianMs),
  ]),
)}

What fills the message bundle (esbuild metafile, bytes in output):

${markdownTable(
  ['package', 'bytes', 'share'],
  top.map((p) => [p.name, formatBytes(p.bytes), `${((p.bytes / total) * 100).toFixed(1)}%`]),
)}`);
}

if (e2e !== undefined) {
  sections.push(e2e.markdown);
}
if (messenger !== undefined) {
  sections.push(messengerMarkdown(messenger));
}
if (shards !== undefined) sections.push(shardsMarkdown(shards));
if (latency !== undefined) sections.push(latency.markdown);

const report = `${sections.join('\n\n')}\n`;
writeFileSync(join(outDir, 'report.md'), report);
writeFileSync(
  join(outDir, 'results.json'),
  `${JSON.stringify(
    {
      started,
      parts,
      fanout,
      dynamodb,
      coldStart,
      e2e,
      messenger,
      shards: shards && shardsSummary(shards),
      latency: latency && { plan: latency.plan, rows: latency.rows, targets: latency.targets },
    },
    null,
    2,
  )}\n`,
);
if (latency !== undefined) writeLatencyReport(outDir, latency);
// The spun row is a different measurement (CPU charged), not one more size of the paced grid the chart draws.
const svg = await chartSvg({ fanout: fanout.filter((r) => !r.spun), dynamodb, coldStart, e2e });
writeFileSync(join(outDir, 'chart.svg'), svg);
writeFileSync(join(outDir, 'chart.png'), chartPng(svg));

console.log(report.replace(/!\[chart\]\(chart\.png\)\n\n/, ''));
if (shards !== undefined) console.log(JSON.stringify(shardsSummary(shards)));
console.log(`Report: ${join(outDir, 'report.md')}\nChart:  ${join(outDir, 'chart.png')}`);
