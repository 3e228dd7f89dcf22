import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { AggregatedResult, Config, Reporter } from '@jest/reporters';

/**
 * Prints one table of the reliability figures at the end of a run that included the reliability tests. Each
 * suite writes `.results/reliability/<suite>.json`; `rate-limit.json` comes from the rate-limit flood test.
 */
export default class SummaryReporter implements Reporter {
  readonly #figuresDir: string;
  #startedAt = Date.now();

  constructor(globalConfig: Config.GlobalConfig) {
    this.#figuresDir = join(globalConfig.rootDir, '.results', 'reliability');
  }

  onRunStart(): void {
    this.#startedAt = Date.now();
  }

  onRunComplete(_contexts: unknown, results: AggregatedResult): void {
    const files = results.testResults.filter((result) =>
      result.testFilePath.includes(`${join('test', 'reliability')}/`),
    );
    if (files.length === 0) return;
    const tests = new Map(files.map((file) => [basename(file.testFilePath).replace(/\.test\.ts$/, ''), file]));
    const figures = this.#read();
    const rows: Array<[string, string, string]> = [];
    const status = (...suites: string[]): string =>
      suites
        .map((suite) => {
          const file = tests.get(suite);
          if (file === undefined) return figures.has(suite) ? `${suite}: earlier run` : `${suite}: not run`;
          const passed = file.numPassingTests;
          const total = passed + file.numFailingTests;
          return `${suite}: ${passed}/${total} passed${file.testExecError === undefined ? '' : ', could not run'}`;
        })
        .join('; ');
    const num = (suite: string, key: string): number | undefined => {
      const value = figures.get(suite)?.[key];
      return typeof value === 'number' ? value : undefined;
    };
    const counts = (suite: string, key: string, names: Record<string, string>): string => {
      const value = figures.get(suite)?.[key];
      if (typeof value !== 'object' || value === null) return 'not run';
      return Object.entries(names)
        .map(([field, name]) => `${name} ${String((value as Record<string, unknown>)[field] ?? 0)}`)
        .join(', ');
    };
    const or = (value: number | string | undefined, text: (v: number | string) => string): string =>
      value === undefined ? 'not run' : text(value);

    rows.push([
      'frames tried',
      `${or(num('hostile-frames', 'framesTried'), (v) => `${v} in memory`)} + ${or(num('hostile-frames-e2e', 'framesTried'), (v) => `${v} end to end (${num('hostile-frames-e2e', 'binaryFrames') ?? 0} binary)`)}`,
      status('hostile-frames', 'hostile-frames-e2e'),
    ]);
    rows.push([
      'crashes',
      `${or(num('hostile-frames', 'crashes'), String)} in memory, ${or(num('hostile-frames-e2e', 'crashes'), String)} end to end` +
        or(num('hostile-frames-e2e', 'binaryFramesAnsweredInternalError'), (v) =>
          v === 0 ? '' : `; ${v} binary frames answered internal_error`,
        ),
      status('hostile-frames', 'hostile-frames-e2e'),
    ]);
    const split = (suite: string): string => {
      const outcomes = figures.get(suite)?.['outcomes'];
      if (typeof outcomes !== 'object' || outcomes === null) return 'not run';
      const sum = (prefix: RegExp): number =>
        Object.entries(outcomes as Record<string, unknown>).reduce(
          (n, [key, value]) => n + (prefix.test(key) && typeof value === 'number' ? value : 0),
          0,
        );
      return `${sum(/^(refused|error) /)} refused with a typed error, ${sum(/^valid /)} valid`;
    };
    rows.push([
      'frames by outcome',
      `in memory: ${split('hostile-frames')}; end to end: ${split('hostile-frames-e2e')}`,
      status('hostile-frames', 'hostile-frames-e2e'),
    ]);
    rows.push([
      'messenger faults injected',
      counts('messenger-faults', 'faultsInjected', {
        gone410: '410',
        throttled429: '429',
        failed500: '500',
        slow: 'slow',
        hanging: 'hang',
      }),
      status('messenger-faults'),
    ]);
    rows.push([
      'DynamoDB faults injected',
      counts('dynamodb-faults', 'faultsInjected', {
        throttled400: 'throttled',
        droppedBeforeForwarding: 'dropped before',
        droppedAfterForwarding: 'dropped after',
      }) + or(num('dynamodb-faults', 'requests'), (v) => ` of ${v} requests`),
      status('dynamodb-faults'),
    ]);
    rows.push([
      'deliveries expected / made',
      or(
        num('messenger-faults', 'messageDeliveriesExpected'),
        (v) =>
          `${v} / ${num('messenger-faults', 'messageDeliveriesMade') ?? '?'} (${num('messenger-faults', 'duplicateDeliveries') ?? '?'} duplicates)`,
      ),
      status('messenger-faults'),
    ]);
    rows.push([
      'rows lost',
      `${or(num('messenger-faults', 'rowsLost'), String)} in fan-outs, ${or(num('dynamodb-faults', 'rowsLost'), String)} behind DynamoDB faults` +
        or(num('dynamodb-faults', 'seqGaps'), (v) => ` (history: ${v} seq gaps)`),
      status('messenger-faults', 'dynamodb-faults'),
    ]);
    rows.push([
      'lost disconnects',
      or(
        num('lost-disconnects', 'expiredRowsPlanted'),
        (v) =>
          `expired rows posted to: ${num('lost-disconnects', 'expiredRowsPostedTo') ?? '?'} of ${v}; ` +
          `ghosts taken out of their room: ${num('lost-disconnects', 'ghostRowsTakenOutOfTheRoom') ?? '?'} of ${num('lost-disconnects', 'ghostRowsPlanted') ?? '?'}`,
      ),
      status('lost-disconnects'),
    ]);
    const storm = figures.get('connection-storm');
    rows.push([
      'connection storm',
      storm === undefined
        ? 'not run'
        : `${String(storm['clients'])} clients, ${String(storm['connectFailures'])} connect failures, quiet ${String(storm['quietAfterSeconds'])} s ` +
          `after the last close, emulator peak RSS ${String(storm['emulatorPeakRssMb'])} MB`,
      status('connection-storm'),
    ]);
    const sharded = figures.get('sharded-fanout');
    rows.push([
      'sharded fan-out',
      sharded === undefined
        ? 'not run'
        : `${String(sharded['connected'])} of ${String(sharded['clients'])} clients in one room, shards of ${String(sharded['shardSize'])}: ` +
          `${String(sharded['received'])} of ${String(sharded['expected'])} messages received, ${String(sharded['lost'])} lost, ` +
          `${String(sharded['duplicates'])} duplicates, in ${String(sharded['totalSeconds'])} s`,
      status('sharded-fanout'),
    ]);
    const retries = figures.get('sharded-fanout-redelivery');
    rows.push([
      'fan-out redelivery',
      retries === undefined
        ? 'not run'
        : `every job failed once: ${String(retries['redeliveryLost'])} of ${String(retries['redeliveryExpected'])} lost, ` +
          `${String(retries['redeliveryDuplicates'])} duplicates, ${String(retries['shardJobRedeliveries'])} shard jobs redelivered; ` +
          `poison: ${String(retries['deadLetters'])} dead letter after ${String(retries['poisonReceives'])} receives, ` +
          `missed by ${String(retries['poisonMissed'])} (its shard: ${String(retries['poisonShardMembers'])})`,
      status('sharded-fanout-redelivery'),
    ]);
    rows.push([
      'rate-limit rejections',
      this.#rateLimit(figures.get('rate-limit')),
      figures.has('rate-limit') ? 'rate-limit.json' : 'not run',
    ]);

    const stale = [...figures.entries()].filter(
      ([suite, file]) => suite !== 'rate-limit' && typeof file['recordedAt'] === 'string',
    );
    process.stdout.write(`\n${table(['reliability', 'figure', 'tests'], rows)}\n`);
    if (stale.length > 0)
      process.stdout.write(`Figures from an earlier run: ${stale.map(([suite]) => suite).join(', ')}\n`);
  }

  /** The flood test's count of refused frames, however it names it. */
  #rateLimit(file: Record<string, unknown> | undefined): string {
    if (file === undefined) return 'not run';
    for (const key of ['rejections', 'rejected', 'rateLimited', 'rate_limited', 'dropped']) {
      if (typeof file[key] === 'number') return `${String(file[key])} (${key})`;
    }
    return JSON.stringify(file).slice(0, 120);
  }

  /** Every figure file's figures by suite, with `recordedAt`; stale files from before this run are kept but marked. */
  #read(): Map<string, Record<string, unknown>> {
    const figures = new Map<string, Record<string, unknown>>();
    if (!existsSync(this.#figuresDir)) return figures;
    for (const name of readdirSync(this.#figuresDir).filter((file) => file.endsWith('.json'))) {
      try {
        const parsed = JSON.parse(readFileSync(join(this.#figuresDir, name), 'utf8')) as {
          figures?: Record<string, unknown>;
          recordedAt?: unknown;
        };
        const recorded = typeof parsed.recordedAt === 'string' ? Date.parse(parsed.recordedAt) : NaN;
        const current = Number.isNaN(recorded) || recorded >= this.#startedAt;
        figures.set(name.replace(/\.json$/, ''), {
          ...(parsed.figures ?? (parsed as Record<string, unknown>)),
          ...(current ? {} : { recordedAt: parsed.recordedAt }),
        });
      } catch {
        // A figure file being written while the run ends is read next time.
      }
    }
    return figures;
  }
}

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
