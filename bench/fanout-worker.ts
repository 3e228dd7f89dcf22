/**
 * One fan-out measurement in a fresh process (run with --expose-gc): the real ChatService and its bounded
 * concurrency over the in-memory repository, delivering through the simulated messenger. Prints one JSON line.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ChatService } from '../src/domain/chat-service.ts';
import { DEFAULT_ROOM } from '../src/domain/connection.ts';
import { InMemoryConnectionRepository } from '../src/adapters/in-memory-connection-repository.ts';
import { InMemoryMessageHistory } from '../src/adapters/in-memory-message-history.ts';
import { InMemoryFanOutQueue } from '../src/adapters/in-memory-fan-out-queue.ts';
import { InMemoryPresenceLog } from '../src/adapters/in-memory-presence-log.ts';
import { InMemoryShardProgress } from '../src/adapters/in-memory-shard-progress.ts';
import { type Fate, type LatencyModel, type RateLimit, SimulatedMessenger } from './simulated-messenger.ts';
import { seededRandom } from '../test/support/seeded-random.ts';

export interface FanoutParams {
  readonly n: number;
  readonly concurrency: number;
  readonly pageSize: number;
  readonly latency: LatencyModel;
  readonly rateLimit: RateLimit;
  readonly goneShare: number;
  readonly throttledShare: number;
  readonly seed: number;
  /** The real messenger's CPU per delivery (bench/messenger.ts), charged per attempt; 0 charges none. */
  readonly cpuUsPerDelivery: number;
  /** The Lambda's share of one vCPU (memory / 1,769 MB); the charge takes 1 / vcpu as long in wall time. */
  readonly vcpu: number;
  /** Spin for the charge (the wall time then includes it) instead of adding it analytically afterwards. */
  readonly spin: boolean;
}

export interface FanoutResult {
  readonly n: number;
  readonly concurrency: number;
  readonly onLimit: RateLimit['onLimit'];
  readonly wallMs: number;
  readonly rateBoundMs: number;
  readonly latencyBoundMs: number;
  readonly boundMs: number;
  readonly ratio: number;
  readonly meanServiceMs: number;
  readonly tokenWaitMs: number;
  readonly rejectedAttempts: number;
  readonly baselineHeapMb: number;
  readonly peakHeapMb: number;
  readonly peakRssMb: number;
  readonly loopDelayP99Ms: number;
  readonly healthy: number;
  readonly delivered: number;
  readonly gone: number;
  readonly removed: number;
  readonly failed: number;
  readonly healthyServedOnce: number;
  readonly healthyMissed: number;
  readonly sentTwice: number;
  readonly rowsLeft: number;
  readonly correct: boolean;
  readonly cpuUsPerDelivery: number;
  readonly vcpu: number;
  readonly spun: boolean;
  /** Attempts × CPU per delivery / vcpu: the least wall time one Lambda of that size needs for the fan-out. */
  readonly cpuBoundMs: number;
  /** The measured wall when the charge was spun, else max(measured wall, CPU bound). */
  readonly lambdaWallMs: number;
}

const ID_SUFFIX = 'AbCdEfG=';
const idOf = (index: number): string => `Q${index.toString(36).padStart(7, '0')}${ID_SUFFIX}`;
const indexOf = (id: string): number => Number.parseInt(id.slice(1, 8), 36);
const mb = (bytes: number): number => bytes / 1024 / 1024;

async function measure(params: FanoutParams): Promise<FanoutResult> {
  const random = seededRandom(params.seed);
  const fates = new Uint8Array(params.n);
  for (let i = 0; i < params.n; i += 1) {
    const draw = random();
    fates[i] = draw < params.goneShare ? 1 : draw < params.goneShare + params.throttledShare ? 2 : 0;
  }
  const fateNames: readonly Fate[] = ['healthy', 'gone', 'throttled'];
  const sends = new Uint8Array(params.n);
  const connections = new InMemoryConnectionRepository({ pageSize: params.pageSize });
  // Seated an hour ago: a connection still in its handshake is never retired for a 410, and the gone ones must be.
  const connectedAt = new Date(Date.now() - 3_600_000);
  const expiresAt = new Date(Date.now() + 3_600_000);
  for (let i = 0; i < params.n; i += 1)
    await connections.save({
      id: idOf(i),
      room: DEFAULT_ROOM,
      name: `Guest ${i}`,
      connectedAt,
      expiresAt,
      revision: 0,
      announced: false,
    });
  const messenger = new SimulatedMessenger({
    latency: params.latency,
    rateLimit: params.rateLimit,
    random,
    fateOf: (id) => fateNames[fates[indexOf(id)] ?? 0] ?? 'healthy',
    spinUsPerAttempt: params.spin ? params.cpuUsPerDelivery / params.vcpu : 0,
    onSend: (id) => {
      const index = indexOf(id);
      sends[index] = (sends[index] ?? 0) + 1;
    },
  });
  const service = new ChatService({
    connections,
    history: new InMemoryMessageHistory(),
    messenger,
    concurrency: params.concurrency,
    // A post announces no presence: these are never used.
    presence: new InMemoryPresenceLog(),
    fanOutQueue: new InMemoryFanOutQueue(),
    presenceWindowMs: 1000,
    bigRoomSize: 100,
    // Measures one invocation's inline fan-out: no room here is sharded.
    fanOutShardSize: 100_000_000,
    shardProgress: new InMemoryShardProgress(),
  });

  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const baselineHeap = process.memoryUsage().heapUsed;
  let peakHeap = baselineHeap;
  let peakRss = process.memoryUsage.rss();
  const sample = (): void => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  };
  const sampler = setInterval(sample, 5);
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const started = performance.now();
  const { report } = await service.post(idOf(0), 'hello everyone, this is a benchmark message');
  const wallMs = performance.now() - started;
  loop.disable();
  clearInterval(sampler);
  sample();

  let healthy = 0;
  let healthyServedOnce = 0;
  let healthyMissed = 0;
  let sentTwice = 0;
  let goneCount = 0;
  let throttledCount = 0;
  for (let i = 0; i < params.n; i += 1) {
    const count = sends[i] ?? 0;
    if (count > 1) sentTwice += 1;
    if (fates[i] === 1) goneCount += 1;
    else if (fates[i] === 2) throttledCount += 1;
    else {
      healthy += 1;
      if (count === 1) healthyServedOnce += 1;
      else if (count === 0) healthyMissed += 1;
    }
  }
  let rowsLeft = 0;
  for await (const page of connections.list(DEFAULT_ROOM)) rowsLeft += page.length;

  const { perSecond, burst } = params.rateLimit;
  const attempts = params.n + messenger.rejectedAttempts;
  const rateBoundMs = (Math.max(0, attempts - burst) / perSecond) * 1000;
  const latencyBoundMs = messenger.serviceMs / params.concurrency;
  const boundMs = Math.max(rateBoundMs, latencyBoundMs);
  const cpuBoundMs = (attempts * params.cpuUsPerDelivery) / params.vcpu / 1000;
  const correct =
    report.recipients === params.n &&
    report.delivered === healthy &&
    healthyServedOnce === healthy &&
    sentTwice === 0 &&
    report.gone === goneCount &&
    report.removed === goneCount &&
    report.failed === throttledCount &&
    rowsLeft === params.n - goneCount;
  return {
    n: params.n,
    concurrency: params.concurrency,
    onLimit: params.rateLimit.onLimit,
    wallMs,
    rateBoundMs,
    latencyBoundMs,
    boundMs,
    ratio: wallMs / boundMs,
    meanServiceMs: messenger.serviceMs / attempts,
    tokenWaitMs: messenger.tokenWaitMs,
    rejectedAttempts: messenger.rejectedAttempts,
    baselineHeapMb: mb(baselineHeap),
    peakHeapMb: mb(peakHeap),
    peakRssMb: mb(peakRss),
    loopDelayP99Ms: loop.percentile(99) / 1e6,
    healthy,
    delivered: report.delivered,
    gone: report.gone,
    removed: report.removed,
    failed: report.failed,
    healthyServedOnce,
    healthyMissed,
    sentTwice,
    rowsLeft,
    correct,
    cpuUsPerDelivery: params.cpuUsPerDelivery,
    vcpu: params.vcpu,
    spun: params.spin,
    cpuBoundMs,
    lambdaWallMs: params.spin ? wallMs : Math.max(wallMs, cpuBoundMs),
  };
}

const raw = process.argv[2];
if (raw === undefined) throw new Error('usage: node --expose-gc bench/fanout-worker.ts <params json>');
const result = await measure(JSON.parse(raw) as FanoutParams);
process.stdout.write(`${JSON.stringify(result)}\n`);
