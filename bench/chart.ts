/** The report's chart: a Vega-Lite bar panel per part that ran, rendered to SVG by Vega and to PNG by resvg. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import opentype from 'opentype.js';
import { parse, textMetrics, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

interface TextItem {
  readonly fontSize?: number;
  readonly fontWeight?: string | number;
}

declare module 'vega' {
  /** Vega's text measurer (exported, untyped): it sizes titles, legends and axes from the widths it returns. */
  export const textMetrics: { width: (item: TextItem, text?: unknown) => number };
}

/** The figures the chart draws: the fields it reads from each part's result, so a full results.json fits. */
export interface ChartInput {
  readonly fanout: ReadonlyArray<{
    readonly n: number;
    readonly concurrency: number;
    readonly onLimit: string;
    readonly ratio: number;
    readonly peakHeapMb: number;
  }>;
  readonly dynamodb?:
    | {
        readonly listings: ReadonlyArray<{
          readonly target: string;
          readonly layout: string;
          readonly rows: number;
          readonly pageSize: string;
          readonly rcu: number;
          readonly idealKeysOnlyRcu: number;
        }>;
      }
    | undefined;
  readonly coldStart?:
    | {
        readonly runs: number;
        readonly bundles: ReadonlyArray<{
          readonly variant: string;
          readonly handler: string;
          readonly bytes: number;
          readonly importMedianMs: number;
        }>;
      }
    | undefined;
  readonly e2e?:
    | {
        readonly rows: ReadonlyArray<{ readonly server: string; readonly clients: number; readonly lastP50Ms: number }>;
      }
    | undefined;
}

interface Bar {
  readonly group: string;
  readonly series: string;
  readonly value: number;
}

interface BarPanel {
  readonly title: string;
  readonly subtitle: string;
  readonly xTitle: string;
  readonly yTitle: string;
  readonly legendTitle: string;
  /** d3-format of the value printed on each bar. */
  readonly format: string;
  readonly groups: readonly string[];
  readonly series: readonly string[];
  /** A color per series; the palette's when absent. */
  readonly colors?: readonly string[];
  readonly bars: readonly Bar[];
  readonly target?: { readonly value: number; readonly label: string };
}

const FONT = 'Source Sans 3';
// The SVG names fallbacks for a browser without the font; resvg is given the font itself.
const FONT_STACK = `'${FONT}', 'Helvetica Neue', Arial, sans-serif`;
const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#9d755d'];
const TARGET_COLOR = '#d62728';
const REFERENCE_COLOR = '#a0a0a0';
const PANEL_WIDTH = 340;
const PANEL_HEIGHT = 200;

const compact = (n: number): string => (n >= 1000 ? `${n / 1000}K` : String(n));
const sortedUnique = (values: readonly number[]): number[] => [...new Set(values)].sort((a, b) => a - b);

function pacedFanout(results: ChartInput['fanout']) {
  const paced = results.filter((r) => r.onLimit === 'queue');
  const concurrencies = sortedUnique(paced.map((r) => r.concurrency));
  const sizes = sortedUnique(paced.map((r) => r.n));
  return {
    groups: sizes.map((n) => `N = ${compact(n)}`),
    series: concurrencies.map((c) => `C = ${c}`),
    bars: (value: (r: (typeof paced)[number]) => number): Bar[] =>
      paced.map((r) => ({ group: `N = ${compact(r.n)}`, series: `C = ${r.concurrency}`, value: value(r) })),
  };
}

function fanoutPanel(results: ChartInput['fanout']): BarPanel {
  const { groups, series, bars } = pacedFanout(results);
  return {
    title: 'Fan-out: wall time against the bound',
    subtitle: 'paced sends through the real ChatService; 1.0 is the rate and latency bound',
    xTitle: 'recipients (N)',
    yTitle: 'wall time / bound (×)',
    legendTitle: 'in flight (C)',
    format: '.2f',
    groups,
    series,
    bars: bars((r) => r.ratio),
    target: { value: 1.2, label: 'target\n≤ 1.2×' },
  };
}

function heapPanel(results: ChartInput['fanout']): BarPanel {
  const { groups, series, bars } = pacedFanout(results);
  return {
    title: 'Fan-out: peak heap',
    subtitle: 'one fresh Node.js process per run',
    xTitle: 'recipients (N)',
    yTitle: 'peak heap (MB)',
    legendTitle: 'in flight (C)',
    format: '.0f',
    groups,
    series,
    bars: bars((r) => r.peakHeapMb),
    target: { value: 256, label: 'target\n< 256 MB' },
  };
}

function dynamoPanel(result: NonNullable<ChartInput['dynamodb']>): BarPanel | undefined {
  const authority = result.listings.some((l) => l.target === 'DynamoDB Local') ? 'DynamoDB Local' : 'dynalite';
  const listings = result.listings.filter(
    (l) => l.target === authority && l.layout === 'as stored today' && l.pageSize.startsWith('1 MB'),
  );
  const largest = listings.find((l) => l.rows === Math.max(...listings.map((x) => x.rows)));
  if (largest === undefined) return undefined;
  const group = `N = ${compact(largest.rows)}`;
  const measured = `measured (${authority})`;
  const ideal = 'ideal, keys only';
  return {
    title: 'DynamoDB: read capacity of one room listing',
    subtitle: 'what a broadcast reads to list its room, in 1 MB pages',
    xTitle: 'connections in the room (N)',
    yTitle: 'read capacity (RCU)',
    legendTitle: 'capacity',
    format: ',.0f',
    groups: [group],
    series: [measured, ideal],
    colors: [PALETTE[0] ?? 'steelblue', REFERENCE_COLOR],
    bars: [
      { group, series: measured, value: largest.rcu },
      { group, series: ideal, value: largest.idealKeysOnlyRcu },
    ],
    target: { value: largest.idealKeysOnlyRcu * 1.1, label: 'target\n≤ 1.1× ideal' },
  };
}

function coldStartAxes(result: NonNullable<ChartInput['coldStart']>) {
  return {
    groups: [...new Set(result.bundles.map((b) => b.handler))],
    series: [...new Set(result.bundles.map((b) => b.variant))],
  };
}

function bundlePanel(result: NonNullable<ChartInput['coldStart']>): BarPanel {
  return {
    title: 'Cold start: bundle size',
    subtitle: "minified by serverless.yml's esbuild options",
    xTitle: 'handler',
    yTitle: 'bundle size (KB)',
    legendTitle: 'variant',
    format: '.0f',
    ...coldStartAxes(result),
    bars: result.bundles.map((b) => ({ group: b.handler, series: b.variant, value: b.bytes / 1024 })),
    target: { value: 150, label: 'target\n≤ 150 KB' },
  };
}

function importPanel(result: NonNullable<ChartInput['coldStart']>): BarPanel {
  return {
    title: 'Cold start: module import time',
    subtitle: `median of ${result.runs} fresh Node.js processes per bundle`,
    xTitle: 'handler',
    yTitle: 'import time, median (ms)',
    legendTitle: 'variant',
    format: '.0f',
    ...coldStartAxes(result),
    bars: result.bundles.map((b) => ({ group: b.handler, series: b.variant, value: b.importMedianMs })),
    target: { value: 30, label: 'target\n≤ 30 ms' },
  };
}

function e2ePanel(result: NonNullable<ChartInput['e2e']>): BarPanel {
  const sizes = sortedUnique(result.rows.map((r) => r.clients));
  return {
    title: 'End to end: last receiver, median',
    subtitle: 'one sender, N real WebSocket clients on the local stack',
    xTitle: 'clients (N)',
    yTitle: 'last receiver p50 (ms)',
    legendTitle: 'server',
    format: ',.0f',
    groups: sizes.map((n) => `N = ${compact(n)}`),
    series: [...new Set(result.rows.map((r) => r.server))],
    bars: result.rows.map((r) => ({ group: `N = ${compact(r.clients)}`, series: r.server, value: r.lastP50Ms })),
  };
}

function panelsOf(input: ChartInput): BarPanel[] {
  const panels: BarPanel[] = [];
  if (input.fanout.some((r) => r.onLimit === 'queue')) panels.push(fanoutPanel(input.fanout), heapPanel(input.fanout));
  if (input.coldStart !== undefined && input.coldStart.bundles.length > 0) {
    panels.push(bundlePanel(input.coldStart), importPanel(input.coldStart));
  }
  const dynamo = input.dynamodb === undefined ? undefined : dynamoPanel(input.dynamodb);
  if (dynamo !== undefined) panels.push(dynamo);
  if (input.e2e !== undefined && input.e2e.rows.length > 0) panels.push(e2ePanel(input.e2e));
  return panels;
}

type PanelSpec = Extract<TopLevelSpec, { concat: unknown }>['concat'][number];
type Layer = Extract<PanelSpec, { layer: unknown }>['layer'][number];
type Encoding = NonNullable<Extract<Layer, { mark: unknown }>['encoding']>;

function targetLayers(target: NonNullable<BarPanel['target']>): { rule: Layer; label: Layer } {
  return {
    rule: {
      data: { values: [target] },
      mark: { type: 'rule', color: TARGET_COLOR, strokeDash: [6, 4], strokeWidth: 1.5 },
      encoding: { y: { field: 'value', type: 'quantitative' } },
    },
    // Two lines, centred on the rule, in the margin right of the plot where no bar reaches.
    label: {
      data: { values: [target] },
      mark: {
        type: 'text',
        align: 'left',
        baseline: 'middle',
        dx: 6,
        dy: -7,
        lineBreak: '\n',
        fontSize: 12,
        fontWeight: 'bold',
        color: TARGET_COLOR,
      },
      encoding: {
        x: { value: PANEL_WIDTH },
        y: { field: 'value', type: 'quantitative' },
        text: { field: 'label', type: 'nominal' },
      },
    },
  };
}

function panelSpec(panel: BarPanel): PanelSpec {
  // Headroom above the tallest bar (or the target line) for the value printed on it.
  const top = Math.max(...panel.bars.map((b) => b.value), panel.target?.value ?? 0);
  const position: Encoding = {
    x: {
      field: 'group',
      type: 'nominal',
      sort: [...panel.groups],
      title: panel.xTitle,
      axis: { labelAngle: 0 },
      // A lone group would stretch its bars across the whole panel.
      scale: { paddingOuter: panel.groups.length === 1 ? 0.8 : 0.1 },
    },
    xOffset: { field: 'series', type: 'nominal', sort: [...panel.series] },
    y: { field: 'value', type: 'quantitative', title: panel.yTitle, scale: { domainMax: top * 1.12 } },
  };
  const value = (color: string, halo: boolean): Layer => ({
    mark: {
      type: 'text',
      baseline: 'bottom',
      dy: -3,
      fontSize: 12,
      color,
      ...(halo ? { stroke: color, strokeWidth: 4 } : {}),
    },
    encoding: { ...position, text: { field: 'value', type: 'quantitative', format: panel.format } },
  });
  const target = panel.target === undefined ? undefined : targetLayers(panel.target);
  return {
    title: { text: panel.title, subtitle: panel.subtitle },
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    data: { values: [...panel.bars] },
    layer: [
      {
        mark: { type: 'bar', cornerRadiusEnd: 2 },
        encoding: {
          ...position,
          color: {
            field: 'series',
            type: 'nominal',
            sort: [...panel.series],
            title: panel.legendTitle,
            scale: { domain: [...panel.series], range: [...(panel.colors ?? PALETTE.slice(0, panel.series.length))] },
            legend: { columns: panel.series.length > 3 ? 2 : panel.series.length },
          },
        },
      },
      ...(target === undefined ? [] : [target.rule]),
      // The value on each bar, over a white halo so that the target rule does not strike it through.
      value('white', true),
      value('#333', false),
      ...(target === undefined ? [] : [target.label]),
    ],
  };
}

/** The Vega-Lite spec of the chart: the panels in two columns, each with its own scales and legend. */
function chartSpec(input: ChartInput): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    padding: 24,
    columns: 2,
    spacing: { row: 40, column: 40 },
    concat: panelsOf(input).map(panelSpec),
    resolve: {
      scale: { x: 'independent', xOffset: 'independent', y: 'independent', color: 'independent' },
      legend: { color: 'independent' },
    },
    config: {
      font: FONT_STACK,
      view: { stroke: null },
      title: { anchor: 'start', frame: 'group', fontSize: 17, subtitleFontSize: 13, subtitleColor: '#555', offset: 10 },
      axis: {
        labelFontSize: 13,
        titleFontSize: 13,
        titleFontWeight: 'normal',
        titleColor: '#333',
        labelColor: '#333',
        gridColor: '#e8e8e8',
        domainColor: '#888',
        tickColor: '#888',
      },
      axisX: { grid: false, ticks: false, labelPadding: 6 },
      legend: {
        orient: 'top',
        direction: 'horizontal',
        titleOrient: 'left',
        labelFontSize: 13,
        titleFontSize: 13,
        titleFontWeight: 'normal',
        labelLimit: 0,
        symbolType: 'square',
        columnPadding: 14,
        offset: 8,
      },
    },
  };
}

const require = createRequire(import.meta.url);
const fontDir = join(dirname(require.resolve('source-sans/package.json')), 'TTF');
const fontFile = (weight: 'Regular' | 'Bold'): string => join(fontDir, `SourceSans3-${weight}.ttf`);

let faces: { regular: opentype.Font; bold: opentype.Font } | undefined;

function loadFont(weight: 'Regular' | 'Bold'): opentype.Font {
  const bytes = readFileSync(fontFile(weight));
  return opentype.parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** The width of text in the font the PNG is drawn with, so that Vega lays out what resvg will draw. */
function measure(item: TextItem, text?: unknown): number {
  if (text === undefined || text === null) return 0;
  faces ??= { regular: loadFont('Regular'), bold: loadFont('Bold') };
  const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600;
  const face = bold ? faces.bold : faces.regular;
  return face.getAdvanceWidth(String(text).trim(), item.fontSize ?? 11, { kerning: true });
}

/** The chart as an SVG document. */
export async function chartSvg(input: ChartInput): Promise<string> {
  // Vega measures text with a canvas when it has one and guesses otherwise; Node has none.
  textMetrics.width = measure;
  const view = new View(parse(compile(chartSpec(input)).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Renders the chart's SVG to PNG at twice its size. The font comes from the `source-sans` package, not the
 * system, so the PNG is the same on a machine without fonts.
 */
export function chartPng(svg: string): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: 2 },
    font: {
      loadSystemFonts: false,
      fontFiles: [fontFile('Regular'), fontFile('Bold')],
      defaultFontFamily: FONT,
    },
  });
  return resvg.render().asPng();
}
