/** The report's chart: one PNG with a panel per part that ran. */
import type { ColdStartResult } from './coldstart.ts';
import type { DynamoDbResult } from './dynamodb.ts';
import type { E2eResult } from './e2e.ts';
import type { FanoutResult } from './fanout-worker.ts';
import { type BarPanel, Canvas, type Color, drawBarPanel } from './png.ts';

const PALETTE: readonly Color[] = [
  [66, 133, 244],
  [251, 140, 0],
  [52, 168, 83],
  [171, 71, 188],
  [120, 120, 120],
];

const colorAt = (i: number): Color => PALETTE[i % PALETTE.length] ?? [0, 0, 0];
const compact = (n: number): string => (n >= 1000 ? `${n / 1000}K` : String(n));

export interface ChartInput {
  readonly fanout: readonly FanoutResult[];
  readonly dynamodb: DynamoDbResult | undefined;
  readonly coldStart: ColdStartResult | undefined;
  readonly e2e: E2eResult | undefined;
}

function fanoutPanel(results: readonly FanoutResult[]): BarPanel {
  const paced = results.filter((r) => r.onLimit === 'queue');
  const concurrencies = [...new Set(paced.map((r) => r.concurrency))].sort((a, b) => a - b);
  const sizes = [...new Set(paced.map((r) => r.n))].sort((a, b) => a - b);
  return {
    title: 'FAN-OUT: WALL TIME / BOUND',
    unit: 'ratio',
    series: concurrencies.map((c, i) => ({ label: `C=${c}`, color: colorAt(i) })),
    groups: sizes.map((n) => ({
      label: `N=${compact(n)}`,
      values: concurrencies.map((c) => paced.find((r) => r.n === n && r.concurrency === c)?.ratio),
    })),
    target: { value: 1.2, label: 'target 1.2' },
  };
}

function heapPanel(results: readonly FanoutResult[]): BarPanel {
  const paced = results.filter((r) => r.onLimit === 'queue');
  const concurrencies = [...new Set(paced.map((r) => r.concurrency))].sort((a, b) => a - b);
  const sizes = [...new Set(paced.map((r) => r.n))].sort((a, b) => a - b);
  return {
    title: 'FAN-OUT: PEAK HEAP',
    unit: 'MB',
    series: concurrencies.map((c, i) => ({ label: `C=${c}`, color: colorAt(i) })),
    groups: sizes.map((n) => ({
      label: `N=${compact(n)}`,
      values: concurrencies.map((c) => paced.find((r) => r.n === n && r.concurrency === c)?.peakHeapMb),
    })),
    target: { value: 256, label: 'target 256 MB' },
  };
}

function dynamoPanel(result: DynamoDbResult): BarPanel {
  const authority = result.listings.some((l) => l.target === 'DynamoDB Local') ? 'DynamoDB Local' : 'dynalite';
  const listings = result.listings.filter((l) => l.target === authority && l.pageSize.startsWith('1 MB'));
  const rows = [...new Set(listings.map((l) => l.rows))].sort((a, b) => a - b);
  const largest = Math.max(...rows);
  const ofLayout = (layout: string) => listings.find((l) => l.rows === largest && l.layout === layout);
  const today = ofLayout('as stored today');
  return {
    title: `DYNAMODB: RCU PER LISTING OF ${compact(largest)} ROWS`,
    unit: 'RCU',
    series: [
      { label: authority, color: colorAt(0) },
      { label: 'ideal keys-only', color: colorAt(2) },
    ],
    groups: [
      { label: 'as stored', values: [today?.rcu, today?.idealKeysOnlyRcu] },
    ],
    target: today === undefined ? undefined : { value: today.idealKeysOnlyRcu * 1.1, label: 'target 1.1x' },
  };
}

function bundlePanel(result: ColdStartResult): BarPanel {
  const variants = [...new Set(result.bundles.map((b) => b.variant))];
  const handlers = [...new Set(result.bundles.map((b) => b.handler))];
  return {
    title: 'COLD START: BUNDLE SIZE (MINIFIED)',
    unit: 'KB',
    series: variants.map((v, i) => ({ label: v, color: colorAt(i) })),
    groups: handlers.map((h) => ({
      label: h,
      values: variants.map((v) => {
        const bundle = result.bundles.find((b) => b.handler === h && b.variant === v);
        return bundle === undefined ? undefined : Math.round(bundle.bytes / 1024);
      }),
    })),
    target: { value: 150, label: 'target 150 KB' },
  };
}

function initPanel(result: ColdStartResult): BarPanel {
  const variants = [...new Set(result.bundles.map((b) => b.variant))];
  const handlers = [...new Set(result.bundles.map((b) => b.handler))];
  return {
    title: 'COLD START: IMPORT TIME (MEDIAN)',
    unit: 'ms',
    series: variants.map((v, i) => ({ label: v, color: colorAt(i) })),
    groups: handlers.map((h) => ({
      label: h,
      values: variants.map((v) => result.bundles.find((b) => b.handler === h && b.variant === v)?.importMedianMs),
    })),
    target: { value: 30, label: 'target 30 ms' },
  };
}

function e2ePanel(result: E2eResult): BarPanel {
  const sizes = [...new Set(result.rows.map((r) => r.clients))].sort((a, b) => a - b);
  const servers = [...new Set(result.rows.map((r) => r.server))];
  return {
    title: 'END TO END: LAST RECEIVER P50',
    unit: 'ms',
    series: servers.map((s, i) => ({ label: s, color: colorAt(i) })),
    groups: sizes.map((n) => ({
      label: `N=${compact(n)}`,
      values: servers.map((s) => result.rows.find((r) => r.clients === n && r.server === s)?.lastP50Ms),
    })),
  };
}

/** Draws every panel the data allows, two per row. */
export function drawChart(input: ChartInput): Buffer {
  const panels: BarPanel[] = [];
  if (input.fanout.length > 0) panels.push(fanoutPanel(input.fanout), heapPanel(input.fanout));
  if (input.dynamodb !== undefined && input.dynamodb.listings.length > 0) panels.push(dynamoPanel(input.dynamodb));
  if (input.coldStart !== undefined) panels.push(bundlePanel(input.coldStart), initPanel(input.coldStart));
  if (input.e2e !== undefined && input.e2e.rows.length > 0) panels.push(e2ePanel(input.e2e));
  const width = 640;
  const height = 340;
  const rows = Math.max(1, Math.ceil(panels.length / 2));
  const canvas = new Canvas(width * 2, height * rows);
  panels.forEach((panel, i) => drawBarPanel(canvas, (i % 2) * width, Math.floor(i / 2) * height, width, height, panel));
  return canvas.toPng();
}
