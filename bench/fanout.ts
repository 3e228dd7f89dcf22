/** Part 2: the fan-out engine in process, one fresh Node process per measurement. */
import { runWorkerProcess } from './worker-process.ts';
import { fileURLToPath } from 'node:url';
import type { FanoutParams, FanoutResult } from './fanout-worker.ts';
import type { LatencyModel, RateLimit } from './simulated-messenger.ts';

const workerPath = fileURLToPath(new URL('./fanout-worker.ts', import.meta.url));

export interface FanoutPlan {
  readonly sizes: readonly number[];
  readonly concurrencies: readonly number[];
  readonly latency: LatencyModel;
  readonly rateLimit: Omit<RateLimit, 'onLimit'>;
  readonly goneShare: number;
  readonly throttledShare: number;
  readonly pageSize: number;
  /** Also run the largest size with a rate limit that answers 429 instead of pacing, as AWS does. */
  readonly withRejectMode: boolean;
  readonly cpuUsPerDelivery: number;
  readonly vcpu: number;
}

export const DEFAULT_LATENCY: LatencyModel = { medianMs: 20, sigma: 0.5, tailShare: 0.01, tailMs: 100 };

/**
 * CPU per delivery of ApiGatewayMessenger as the composition root builds it, from bench/messenger.ts (median of
 * 3 runs, 20,000 sends at 200 in flight; see bench/RESULTS-hot-path.md); a run with the messenger part uses its own.
 */
export const DEFAULT_CPU_US_PER_DELIVERY = 265;
/** Lambda gives a function one vCPU at 1,769 MB and a proportional share below it. */
export const vcpuAt = (memoryMb: number): number => Math.min(1, memoryMb / 1769);
/** API Gateway ends an integration after 29 s; a fan-out must finish within it. */
export const INTEGRATION_TIMEOUT_MS = 29_000;

/** The largest room one invocation reaches within the integration timeout when the CPU is the limit. */
export const largestRoom = (cpuUsPerDelivery: number, vcpu: number): number =>
  Math.floor((INTEGRATION_TIMEOUT_MS * 1000 * vcpu) / cpuUsPerDelivery);

export function fanoutRuns(plan: FanoutPlan): FanoutParams[] {
  const runs: FanoutParams[] = [];
  const base = {
    pageSize: plan.pageSize,
    latency: plan.latency,
    goneShare: plan.goneShare,
    throttledShare: plan.throttledShare,
    seed: 42,
    cpuUsPerDelivery: plan.cpuUsPerDelivery,
    vcpu: plan.vcpu,
    spin: false,
  };
  for (const n of plan.sizes) {
    for (const concurrency of plan.concurrencies) {
      runs.push({ ...base, n, concurrency, rateLimit: { ...plan.rateLimit, onLimit: 'queue' } });
    }
  }
  const largest = Math.max(...plan.sizes);
  if (plan.withRejectMode) {
    for (const concurrency of plan.concurrencies.filter((c) => c > Math.min(...plan.concurrencies))) {
      runs.push({ ...base, n: largest, concurrency, rateLimit: { ...plan.rateLimit, onLimit: 'reject' } });
    }
  }
  return runs;
}

/** Runs one measurement in a fresh process so that heap figures start from a clean slate. */
export function runFanout(params: FanoutParams): Promise<FanoutResult> {
  return runWorkerProcess<FanoutResult>(workerPath, params, 'fan-out worker');
}
