import { describeSwitches, type FaultSwitches, parseFaultSwitches } from './fault-kinds.ts';
import { checkInvariants, type Violation } from './invariants.ts';
import { runWorkload } from './run-workload.ts';
import { shrink } from './shrinker.ts';
import type { StorageFactory } from './storage.ts';
import { describeOps, generateWorkload, type Op, type Workload } from './workload.ts';

/** What the environment asks of a run: `FAULT_SEED` (one seed), `FAULTS` and `FAULT_SKIP` (the switches), `FAULT_STEPS`. */
export interface SuiteSettings {
  readonly seeds: readonly number[];
  readonly steps: number;
  readonly switches: FaultSwitches;
  /** The storage each run builds: in-memory unless a variant names another. */
  readonly storage?: StorageFactory;
  /**
   * How many runs of one workload a shrinking step tries before it calls it passing: 1 where a seed replays
   * exactly; more where the order of concurrent requests on a real socket may change what a run does.
   */
  readonly tries?: number;
}

/** The tier's seeds and length, unless the environment names one seed, other switches or another length. */
export function suiteSettings(defaults: { firstSeed: number; seeds: number; steps: number }): SuiteSettings {
  const one = process.env['FAULT_SEED'];
  const steps = Number(process.env['FAULT_STEPS'] ?? defaults.steps);
  return {
    seeds: one !== undefined ? [Number(one)] : Array.from({ length: defaults.seeds }, (_, i) => defaults.firstSeed + i),
    steps: Number.isInteger(steps) && steps > 0 ? steps : defaults.steps,
    switches: parseFaultSwitches(process.env['FAULTS'], process.env['FAULT_SKIP']),
  };
}

type RunSettings = Pick<SuiteSettings, 'switches' | 'storage'>;

/** Runs a workload to the end and settles it; the invariants it breaks (a run that throws breaks invariant 0). */
export async function violationsOf(workload: Workload, settings: RunSettings): Promise<Violation[]> {
  return (await examine(workload, settings)).violations;
}

/** The invariants a workload breaks, and the faults that were injected into it. */
async function examine(
  workload: Workload,
  { switches, storage }: RunSettings,
): Promise<{ violations: Violation[]; injected: readonly string[] }> {
  let run;
  try {
    run = await runWorkload(workload, switches, storage);
  } catch (error) {
    return { violations: [{ invariant: 0, message: `the run failed: ${detailOf(error)}` }], injected: [] };
  }
  try {
    const below = run.world.problems().map((problem): Violation => ({ invariant: 0, message: problem }));
    return { violations: [...below, ...(await checkInvariants(run))], injected: run.world.dice.injected };
  } catch (error) {
    return { violations: [{ invariant: 0, message: `the check failed: ${detailOf(error)}` }], injected: [] };
  } finally {
    await run.world.dispose();
  }
}

function detailOf(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

export interface SeedFailure {
  readonly seed: number;
  readonly violations: readonly Violation[];
}

/** A failing seed's report: the shortest workload that still breaks the same invariant, and how to rerun it. */
export async function shrinkFailure(failure: SeedFailure, settings: SuiteSettings, budget: number): Promise<string> {
  const workload = generateWorkload(failure.seed, settings.steps, settings.switches);
  const target = failure.violations[0]?.invariant;
  const tries = settings.tries ?? 1;
  const breaks = (violations: readonly Violation[]): boolean => violations.some((v) => v.invariant === target);
  const stillFails = async (ops: readonly Op[]): Promise<boolean> => {
    for (let attempt = 0; attempt < tries; attempt += 1) {
      if (breaks(await violationsOf({ ...workload, ops }, settings))) return true;
    }
    return false;
  };
  const shrunk = await shrink(workload.ops, stillFails, budget);
  const shortest = { ...workload, ops: shrunk.items };
  const { violations, injected } = await examine(shortest, settings);
  // Where a run may not replay exactly, how often the shortest workload fails again tells a flake from a finding.
  let again = 0;
  for (let attempt = 1; attempt < tries; attempt += 1) if (breaks(await violationsOf(shortest, settings))) again += 1;
  const replays = tries > 1 ? `; ${again + (breaks(violations) ? 1 : 0)} of ${tries} reruns of it fail` : '';
  return [
    `seed ${failure.seed} breaks invariant ${String(target)} (${describeSwitches(settings.switches)}, ${settings.steps} steps, config ${JSON.stringify(workload.config)})`,
    `rerun: FAULT_SEED=${failure.seed} ${describeSwitches(settings.switches)} FAULT_STEPS=${settings.steps}`,
    `shortest workload found (${shrunk.items.length} of ${workload.ops.length} steps, ${shrunk.runs} shrinking runs${replays}):`,
    describeOps(shrunk.items),
    'faults injected into it:',
    ...injected.map((fault) => `  ${fault}`),
    'its violations:',
    ...violations.slice(0, 8).map((v) => `  [${v.invariant}] ${v.message}`),
    ...(violations.length > 8 ? [`  ... and ${violations.length - 8} more`] : []),
  ].join('\n');
}

/** Runs every seed; the failing ones with their violations. */
export async function failingSeeds(settings: SuiteSettings): Promise<SeedFailure[]> {
  const failures: SeedFailure[] = [];
  for (const seed of settings.seeds) {
    const violations = await violationsOf(generateWorkload(seed, settings.steps, settings.switches), settings);
    if (violations.length > 0) failures.push({ seed, violations });
  }
  return failures;
}

/** One line per failing seed: its seed and the invariants it breaks. */
export function summarise(failures: readonly SeedFailure[]): string {
  return failures
    .map(
      ({ seed, violations }) =>
        `  seed ${seed}: invariants ${[...new Set(violations.map((v) => v.invariant))].join(', ')} (${violations.length} violations)`,
    )
    .join('\n');
}
