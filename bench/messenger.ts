/**
 * The real messenger's CPU per delivery (issue 12): ApiGatewayMessenger as the composition root builds it,
 * side by side with a SigV4-signed keep-alive POST loop (the floor), the same unsigned, and the AWS samples'
 * pattern, all sending to one loopback `@connections` stub in a process of its own. Every measurement is a fresh
 * `node --expose-gc` process; the variants take turns within each run, and ratios are taken within a run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  MESSENGER_VARIANTS,
  type MessengerParams,
  type MessengerResult,
  type MessengerVariant,
} from './messenger-worker.ts';
import { formatInt, markdownTable, median } from './stats.ts';
import { runWorkerProcess } from './worker-process.ts';

const stubPath = fileURLToPath(new URL('./messenger-stub.ts', import.meta.url));
const workerPath = fileURLToPath(new URL('./messenger-worker.ts', import.meta.url));

export interface MessengerPlan {
  readonly sends: number;
  readonly inFlight: number;
  readonly runs: number;
  readonly variants?: readonly MessengerVariant[];
}

export interface MessengerSummary {
  readonly variant: MessengerVariant;
  readonly cpuUsPerDelivery: number;
  readonly deliveriesPerCpuSecond: number;
  readonly bytesPerDelivery: number;
  readonly wallMs: number;
  /** Median over runs of this variant's CPU per delivery divided by the signed floor's in the same run. */
  readonly ratioToSignedFloor: number;
  readonly perRunCpuUs: readonly number[];
  readonly failed: number;
}

export interface MessengerReport {
  readonly plan: MessengerPlan;
  readonly results: readonly MessengerResult[][];
  readonly summary: readonly MessengerSummary[];
}

export const messengerSteps = (plan: MessengerPlan): number => plan.runs * (plan.variants ?? MESSENGER_VARIANTS).length;

async function startStub(): Promise<{ endpoint: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [stubPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`stub exited with ${code}`)));
    child.stdout?.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
  });
  return { endpoint: `http://127.0.0.1:${port}`, child };
}

function runWorker(params: MessengerParams): Promise<MessengerResult> {
  return runWorkerProcess<MessengerResult>(workerPath, params, `messenger worker (${params.variant})`);
}

export async function runMessenger(
  plan: MessengerPlan,
  step: (label: string) => void = () => undefined,
  done: () => void = () => undefined,
): Promise<MessengerReport> {
  const variants = plan.variants ?? MESSENGER_VARIANTS;
  const stub = await startStub();
  const results: MessengerResult[][] = [];
  try {
    for (let run = 0; run < plan.runs; run += 1) {
      const row: MessengerResult[] = [];
      // Rotate the order so that no variant always runs first (or last) on a noisy machine.
      for (let k = 0; k < variants.length; k += 1) {
        const variant = variants[(k + run) % variants.length] as MessengerVariant;
        step(`messenger ${variant} run ${run + 1}/${plan.runs}`);
        const warmup = Math.min(2000, Math.ceil(plan.sends / 10));
        row.push(
          await runWorker({ variant, endpoint: stub.endpoint, sends: plan.sends, inFlight: plan.inFlight, warmup }),
        );
        done();
      }
      results.push(row);
    }
  } finally {
    stub.child.kill('SIGTERM');
  }
  const perDelivery = (r: MessengerResult): number => r.cpuUs / r.sends;
  const summary = variants.map((variant): MessengerSummary => {
    const mine = results.map((row) => row.find((r) => r.variant === variant)).filter((r) => r !== undefined);
    const ratios = results.flatMap((row) => {
      const own = row.find((r) => r.variant === variant);
      const signed = row.find((r) => r.variant === 'floor signed');
      return own !== undefined && signed !== undefined ? [perDelivery(own) / perDelivery(signed)] : [];
    });
    const cpu = median(mine.map(perDelivery));
    return {
      variant,
      cpuUsPerDelivery: cpu,
      deliveriesPerCpuSecond: 1e6 / cpu,
      bytesPerDelivery: median(mine.map((r) => r.allocatedBytes / r.sends)),
      wallMs: median(mine.map((r) => r.wallMs)),
      ratioToSignedFloor: median(ratios),
      perRunCpuUs: mine.map(perDelivery),
      failed: mine.reduce((sum, r) => sum + r.failed, 0),
    };
  });
  return { plan, results, summary };
}

export function messengerMarkdown(report: MessengerReport): string {
  const { plan } = report;
  return `## The real messenger's CPU per delivery (issue 12)

${formatInt(plan.sends)} sends at ${plan.inFlight} in flight per measurement, ${plan.runs} runs, each variant a fresh
\`node --expose-gc\` process sending to a loopback \`@connections\` stub in another process (answers 200). Measured in the
sending process only: CPU is \`process.cpuUsage()\` (user + system) around the sends after a warm-up; allocations are the
heap's growth plus what each GC freed (\`v8.GCProfiler\`). Medians over runs; the ratio is taken against the signed floor
of the same run. **ours**: \`ApiGatewayMessenger\` from the composition root's \`buildMessenger\`, one frame object for
every recipient as the fan-out passes it; **naive**: AWS's samples, a new default client per invocation of ${plan.inFlight}
recipients and all its sends started at once (\`Promise.all\`); **floor signed**: a keep-alive \`http.request\` POST
loop signed with \`@smithy/signature-v4\`; **floor unsigned**: the same without signing; **floor signed, batched**: the
signed floor with its posts started together once per turn of the event loop, as ours starts its sends (the floor of
ours' scheduling; the ratios stay against the plain signed floor).

${markdownTable(
  [
    'variant',
    'CPU per delivery',
    'deliveries per CPU-second',
    'allocated per delivery',
    'wall (median)',
    '× signed floor',
    'runs (µs)',
    'failed',
  ],
  report.summary.map((s) => [
    s.variant,
    `${s.cpuUsPerDelivery.toFixed(0)} µs`,
    formatInt(Math.round(s.deliveriesPerCpuSecond)),
    `${(s.bytesPerDelivery / 1024).toFixed(1)} KB`,
    `${(s.wallMs / 1000).toFixed(2)} s`,
    `${s.ratioToSignedFloor.toFixed(2)}×`,
    s.perRunCpuUs.map((v) => v.toFixed(0)).join(', '),
    String(s.failed),
  ]),
)}`;
}

// Run alone: node bench/messenger.ts [sends] [runs] [variant,...]
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [sends = '20000', runs = '3', only] = process.argv.slice(2);
  const variants = only?.split(',') as MessengerVariant[] | undefined;
  const report = await runMessenger(
    { sends: Number(sends), inFlight: 200, runs: Number(runs), ...(variants ? { variants } : {}) },
    (label) => process.stderr.write(`${label}\n`),
  );
  console.log(messengerMarkdown(report));
}
