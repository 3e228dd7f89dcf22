/**
 * Part `shards` (issue 14): one message to a room of 1,000,000 members through the sharded fan-out, simulated in
 * virtual time (bench/sharded-fanout-worker.ts) with the fan-out function's settings from serverless.yml and the
 * service's from loadConfig, plus one worker's real heap (bench/sharded-fanout-heap.ts). Run alone with
 * `node bench/sharded-fanout.ts [--quick]`, or through `npm run bench -- --part shards`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/handlers/wiring/config.ts';
import { DEFAULT_CPU_US_PER_DELIVERY, DEFAULT_LATENCY, vcpuAt } from './fanout.ts';
import type { ShardHeapParams, ShardHeapResult } from './sharded-fanout-heap.ts';
import type { ShardedFanoutParams, ShardedFanoutResult } from './sharded-fanout-worker.ts';
import { formatInt, formatMs, markdownTable } from './stats.ts';
import { runWorkerProcess } from './worker-process.ts';

const workerPath = fileURLToPath(new URL('./sharded-fanout-worker.ts', import.meta.url));
const heapPath = fileURLToPath(new URL('./sharded-fanout-heap.ts', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));

/** The CPU per delivery the issue's figures were first written with (bench/RESULTS-hot-path.md, before the last messenger change). */
export const EARLIER_CPU_US_PER_DELIVERY = 915;
/** Heap per worker the issue allows. */
export const HEAP_LIMIT_MB = 256;
/** A DynamoDB Query of one full page of the keys-only room index (about 430 KB at 5,000 members): assumed. */
const QUERY_MS = 60;

export interface FanOutFunctionSettings {
  readonly maxConcurrency: number;
  readonly batchSize: number;
  readonly timeoutMs: number;
  readonly visibilityTimeoutMs: number;
  readonly memoryMb: number;
}

/** The fan-out function as serverless.yml deploys it: its event source, timeout (its own or the provider's) and memory. */
export function fanOutFunctionSettings(): FanOutFunctionSettings {
  const yml = readFileSync(join(root, 'serverless.yml'), 'utf8');
  const param = (name: string): number => {
    const value = new RegExp(`\\n {4}${name}: (\\d+)`).exec(yml)?.[1];
    if (value === undefined) throw new Error(`serverless.yml: no default for the ${name} param`);
    return Number(value);
  };
  const fanout = /\n {2}fanout:\n((?: {4}.*\n|\s*\n)+)/.exec(yml)?.[1] ?? '';
  const provider = /\nprovider:\n((?: {2}.*\n|\s*\n)+)/.exec(yml)?.[1] ?? '';
  const own = (key: string, block: string, indent: number): number | undefined => {
    const value = new RegExp(`\\n {${indent}}${key}: (\\d+)`).exec(`\n${block}`)?.[1];
    return value === undefined ? undefined : Number(value);
  };
  const timeout = own('timeout', fanout, 4) ?? own('timeout', provider, 2);
  const memory = own('memorySize', fanout, 4) ?? own('memorySize', provider, 2);
  const batchSize = /\n {10}batchSize: (\d+)/.exec(fanout)?.[1];
  if (timeout === undefined || memory === undefined)
    throw new Error('serverless.yml: no timeout or memorySize for fanout');
  return {
    maxConcurrency: param('fanOutMaxConcurrency'),
    // Lambda's default for an SQS event source is 10.
    batchSize: batchSize === undefined ? 10 : Number(batchSize),
    timeoutMs: timeout * 1000,
    visibilityTimeoutMs: param('fanOutVisibilityTimeout') * 1000,
    memoryMb: memory,
  };
}

/** ROOM_SHARDS, FANOUT_SHARD_SIZE and BROADCAST_CONCURRENCY as the functions read them (their defaults unless set). */
function serviceSettings(): { shards: number; shardSize: number; concurrency: number } {
  const config = loadConfig({
    CHAT_TABLE: 'ws-chat-bench',
    WEBSOCKET_MANAGEMENT_ENDPOINT: 'https://example.execute-api.us-east-1.amazonaws.com/bench',
    FANOUT_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/ws-chat-bench-fanout',
    PRESENCE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/ws-chat-bench-presence',
    FANOUT_SHARD_SIZE: process.env['FANOUT_SHARD_SIZE'],
    ROOM_SHARDS: process.env['ROOM_SHARDS'],
    BROADCAST_CONCURRENCY: process.env['BROADCAST_CONCURRENCY'],
  });
  return { shards: config.roomShards, shardSize: config.fanOutShardSize, concurrency: config.broadcastConcurrency };
}

export interface ShardsPlan {
  readonly n: number;
  readonly quick: boolean;
  readonly budgetPerSecond: number;
  readonly cpuUsPerDelivery: number;
}

export interface ShardsReport {
  readonly plan: ShardsPlan;
  readonly settings: FanOutFunctionSettings;
  readonly heap: ShardHeapResult;
  readonly runs: ShardedFanoutResult[];
}

/** The scenarios: as deployed, the proposed batch size of 1, and (full runs) that at the earlier CPU figure. */
function scenarios(plan: ShardsPlan, settings: FanOutFunctionSettings, listCpuMs: number): ShardedFanoutParams[] {
  const service = serviceSettings();
  const base: ShardedFanoutParams = {
    label: `as deployed (batch ${settings.batchSize})`,
    n: plan.n,
    shards: service.shards,
    shardSize: service.shardSize,
    broadcastConcurrency: service.concurrency,
    maxConcurrency: settings.maxConcurrency,
    batchSize: settings.batchSize,
    timeoutMs: settings.timeoutMs,
    visibilityTimeoutMs: settings.visibilityTimeoutMs,
    vcpu: vcpuAt(settings.memoryMb),
    budgetPerSecond: plan.budgetPerSecond,
    burst: 100,
    cpuUsPerDelivery: plan.cpuUsPerDelivery,
    latency: DEFAULT_LATENCY,
    sqsSendMs: 10,
    invokeMs: 20,
    coldStartMs: 250,
    queryMs: QUERY_MS,
    listCpuMs,
    seed: 42,
  };
  const runs = [base];
  if (settings.batchSize !== 1) runs.push({ ...base, label: 'batch size 1 (proposed)', batchSize: 1 });
  if (!plan.quick) {
    runs.push({
      ...base,
      label: `batch size 1, ${EARLIER_CPU_US_PER_DELIVERY} µs per delivery`,
      batchSize: 1,
      cpuUsPerDelivery: EARLIER_CPU_US_PER_DELIVERY,
    });
  }
  return runs;
}

export const shardsSteps = (plan: ShardsPlan): number => 1 + (plan.quick ? 2 : 3);

/** Measures one worker's heap, then runs the scenarios two at a time (virtual time: the load does not change them). */
export async function runShards(
  plan: ShardsPlan,
  step: (label: string) => void,
  done: () => void,
): Promise<ShardsReport> {
  const settings = fanOutFunctionSettings();
  step('sharded fan-out: one worker’s heap');
  const heapParams: ShardHeapParams = { batch: settings.batchSize - 1 || 1, queryMs: QUERY_MS };
  const heap = await runWorkerProcess<ShardHeapResult>(heapPath, heapParams, 'sharded fan-out heap');
  done();
  const params = scenarios(plan, settings, heap.listCpuMs);
  const runs: ShardedFanoutResult[] = [];
  for (let i = 0; i < params.length; i += 2) {
    const pair = params.slice(i, i + 2);
    step(`sharded fan-out N=${formatInt(plan.n)}: ${pair.map((p) => p.label).join(' | ')}`);
    const results = await Promise.all(
      pair.map((p) => runWorkerProcess<ShardedFanoutResult>(workerPath, p, 'sharded fan-out worker')),
    );
    for (const result of results) {
      runs.push(result);
      done();
    }
  }
  return { plan, settings, heap, runs };
}

/** A result without its per-invocation list, for results.json and the JSON line. */
export function shardsSummary(report: ShardsReport): object {
  return {
    ...report,
    runs: report.runs.map((run) => ({ ...run, invocationList: undefined })),
  };
}

export function shardsTargets(report: ShardsReport): { target: string; measured: string; met: boolean | undefined }[] {
  const real = report.plan.n >= 1_000_000;
  return report.runs.map((r) => ({
    target: `sharded fan-out, ${r.params.label}: N=${formatInt(r.params.n)} ≤ 1.2× N / budget, no invocation past ${formatMs(r.params.timeoutMs)}, heap < ${HEAP_LIMIT_MB} MB, every member once`,
    measured: `${r.ratio.toFixed(2)}× (${formatMs(r.totalMs)} vs ${formatMs(r.idealMs)}), longest invocation ${formatMs(r.maxInvocationMs)}, heap ${report.heap.peakHeapMb.toFixed(0)} MB, ${formatInt(r.missed)} missed, ${formatInt(r.duplicates)} duplicates`,
    met: real
      ? r.ratio <= 1.2 &&
        r.maxInvocationMs <= r.params.timeoutMs &&
        r.timedOut === 0 &&
        report.heap.peakHeapMb < HEAP_LIMIT_MB &&
        r.missed === 0 &&
        r.duplicates === 0 &&
        r.handlerErrors.length === 0
      : undefined,
  }));
}

export function shardsMarkdown(report: ShardsReport): string {
  const { settings, heap, runs } = report;
  const first = runs[0];
  const l = first?.params.latency ?? DEFAULT_LATENCY;
  return `## Sharded fan-out (part shards, issue 14)

One message to one room of ${formatInt(report.plan.n)} members, in virtual time (a discrete-event clock), through the real
code: \`ChatService.post\` (which queues one shard job per shard) in the message function, and the fan-out function's
real Middy handler running \`ChatService.deliverShard\` (list a page, queue the next page, send the page) over the real
\`InMemoryConnectionRepository\` (${first?.params.shards ?? '?'} shards, \`ROOM_SHARDS\`), pages of ${formatInt(first?.params.shardSize ?? 0)}
(\`FANOUT_SHARD_SIZE\`), ${first?.params.broadcastConcurrency ?? '?'} sends in flight (\`BROADCAST_CONCURRENCY\`), all read with loadConfig. AWS is
simulated: an SQS queue (each SendMessage ${first?.params.sqsSendMs ?? '?'} ms; visibility timeout ${formatMs(settings.visibilityTimeoutMs)}), Lambda's event
source (at most ${settings.maxConcurrency} invocations, \`fanOutMaxConcurrency\`; a free slot receives up to the batch size of what is
visible; ${first?.params.invokeMs ?? '?'} ms to invoke, ${first?.params.coldStartMs ?? '?'} ms more on a new environment; ${formatMs(settings.timeoutMs)} per invocation;
${settings.memoryMb} MB = ${vcpuAt(settings.memoryMb).toFixed(2)} vCPU each), a DynamoDB Query of ${first?.params.queryMs ?? '?'} ms per page plus
${(first?.params.listCpuMs ?? 0).toFixed(1)} ms of CPU (measured below), PostToConnection round trips lognormal (median ${l.medianMs} ms, σ ${l.sigma},
${(l.tailShare * 100).toFixed(0)} % ${l.tailMs}–${2 * l.tailMs} ms slower), and one ${formatInt(report.plan.budgetPerSecond)}/s token bucket (burst 100)
shared by every worker, which each send waits on. Each send's CPU is charged analytically to its environment's one vCPU.
Total = post start to the last delivery; ideal = N / budget. No faults: every member is live.

${markdownTable(
  [
    'scenario',
    'CPU / delivery',
    'batch',
    'total',
    'ideal',
    'ratio',
    'longest invocation (limit)',
    'median invocation',
    'timed out',
    'records handed back',
    'shard jobs',
    'invocations',
    'records / invocation (max)',
    'mean running',
    'delivered / missed / duplicates',
  ],
  runs.map((r) => [
    r.params.label,
    `${r.params.cpuUsPerDelivery} µs`,
    String(r.params.batchSize),
    formatMs(r.totalMs),
    formatMs(r.idealMs),
    `**${r.ratio.toFixed(2)}×**`,
    `${formatMs(r.maxInvocationMs)} (${formatMs(r.params.timeoutMs)})`,
    formatMs(r.p50InvocationMs),
    String(r.timedOut),
    String(r.handedBack),
    formatInt(r.shardJobs),
    formatInt(r.invocations),
    `${r.meanRecordsPerInvocation.toFixed(2)} (${r.maxRecordsPerInvocation})`,
    r.meanConcurrency.toFixed(1),
    `${formatInt(r.delivered)} / ${formatInt(r.missed)} / ${formatInt(r.duplicates)}`,
  ]),
)}

Sends per second, each 10 s of the run:

${runs.map((r) => `- ${r.params.label}: ${r.ratePer10s.map((x) => formatInt(Math.round(x))).join(', ')}`).join('\n')}

One worker's heap, in a fresh \`node --expose-gc\` process built as a Lambda container is: the fan-out function's real
handler over the composition root's own clients, against a loopback stub in another process (DynamoDB Query pages of
${formatInt(heap.shardSize)} keys-only members, SQS SendMessage, \`@connections\` answering 200 in about 20 ms); one invocation of one
record, then one of ${heap.jobs - 1}, ${formatInt(heap.deliveries)} real sends in all. Peak \`heapUsed\` (sampled every 2 ms, garbage not yet
collected included) **${heap.peakHeapMb.toFixed(0)} MB** against ${HEAP_LIMIT_MB} MB (baseline ${heap.baselineHeapMb.toFixed(0)} MB). The most any of the
${heap.collections} full (mark-compact) collections left in use: ${heap.peakAfterGcMb.toFixed(0)} MB; ${heap.retainedHeapMb.toFixed(0)} MB after the jobs and a full GC. V8 sizes its heap from
this machine's memory and collects lazily, so the sampled peak is mostly garbage. Peak RSS ${heap.peakRssMb.toFixed(0)} MB. CPU: ${heap.listCpuMs.toFixed(1)} ms to read one page (median of 5), ${heap.cpuUsPerDelivery} µs per
delivery for whole jobs on this machine.`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const plan: ShardsPlan = {
    n: quick ? 100_000 : 1_000_000,
    quick,
    budgetPerSecond: 10_000,
    cpuUsPerDelivery: DEFAULT_CPU_US_PER_DELIVERY,
  };
  const report = await runShards(
    plan,
    (label) => process.stderr.write(`${label}\n`),
    () => undefined,
  );
  console.log(shardsMarkdown(report));
  console.log(JSON.stringify(shardsSummary(report)));
}
