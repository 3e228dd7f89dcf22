import { describe, expect, it } from '@jest/globals';
import { type ChartInput, chartPng, chartSvg } from '../../bench/chart.ts';

const bundle = (variant: string, handler: string, kb: number, importMedianMs: number) => ({
  variant,
  handler,
  bytes: kb * 1024,
  importMedianMs,
});

const everyPart: ChartInput = {
  fanout: [
    { n: 1000, concurrency: 50, onLimit: 'queue', ratio: 1.24, peakHeapMb: 10.6 },
    { n: 1000, concurrency: 200, onLimit: 'queue', ratio: 4.65, peakHeapMb: 10.6 },
    { n: 100_000, concurrency: 50, onLimit: 'queue', ratio: 1.0, peakHeapMb: 47.2 },
    { n: 100_000, concurrency: 200, onLimit: 'queue', ratio: 1.04, peakHeapMb: 56.7 },
    { n: 100_000, concurrency: 200, onLimit: 'reject', ratio: 9.99, peakHeapMb: 99.9 },
  ],
  dynamodb: {
    listings: [
      {
        target: 'DynamoDB Local',
        layout: 'as stored today',
        rows: 10_000,
        pageSize: '1 MB (default)',
        rcu: 103,
        idealKeysOnlyRcu: 103,
      },
    ],
  },
  coldStart: {
    runs: 15,
    bundles: [
      bundle('as deployed', 'connect', 400, 101.7),
      bundle('SDK from the runtime', 'connect', 51, 144.4),
      bundle('as deployed', 'message', 399, 101.7),
    ],
  },
  e2e: {
    rows: [
      { server: 'chat stack', clients: 1000, lastP50Ms: 820 },
      { server: 'plain ws', clients: 1000, lastP50Ms: 17 },
    ],
  },
};

const unescape = (text: string): string =>
  text.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&amp;', '&');

/** Every line of text the SVG shows: each <text>, or each <tspan> of a text of several lines. */
function textsOf(svg: string): string[] {
  return [...svg.matchAll(/<(text|tspan)\b[^>]*>([^<]*)(?=<)/g)]
    .map((match) => unescape(match[2] ?? ''))
    .filter((text) => text !== '');
}

describe('the benchmark chart', () => {
  it('draws a titled panel for each part that ran', async () => {
    const texts = textsOf(await chartSvg(everyPart));

    expect(texts).toEqual(
      expect.arrayContaining([
        'Fan-out: wall time against the bound',
        'Fan-out: peak heap',
        'DynamoDB: read capacity of one room listing',
        'Cold start: bundle size',
        'Cold start: module import time',
        'End to end: last receiver, median',
      ]),
    );
  });

  it('titles each axis with its unit', async () => {
    const texts = textsOf(await chartSvg(everyPart));

    expect(texts).toEqual(
      expect.arrayContaining([
        'wall time / bound (×)',
        'peak heap (MB)',
        'read capacity (RCU)',
        'bundle size (KB)',
        'import time, median (ms)',
        'last receiver p50 (ms)',
        'recipients (N)',
        'handler',
      ]),
    );
  });

  it('draws a dashed target line with its label on each panel that has a target', async () => {
    const svg = await chartSvg(everyPart);

    expect(textsOf(svg)).toEqual(expect.arrayContaining(['≤ 1.2×', '< 256 MB', '≤ 1.1× ideal', '≤ 150 KB', '≤ 30 ms']));
    expect(textsOf(svg).filter((text) => text === 'target')).toHaveLength(5);
    expect(svg.match(/stroke-dasharray="6,4"/g)).toHaveLength(5);
  });

  it('names each series in a legend and prints each value on its bar', async () => {
    const texts = textsOf(await chartSvg(everyPart));

    expect(texts).toEqual(
      expect.arrayContaining(['in flight (C)', 'C = 50', 'C = 200', 'SDK from the runtime', 'plain ws', '4.65', '820']),
    );
  });

  it('leaves the unpaced fan-out runs out of the fan-out panels', async () => {
    const texts = textsOf(await chartSvg(everyPart));

    expect(texts).not.toContain('9.99');
  });

  it('leaves out the panels of parts that did not run', async () => {
    const texts = textsOf(
      await chartSvg({ fanout: [], dynamodb: undefined, coldStart: everyPart.coldStart, e2e: undefined }),
    );

    expect(texts).toContain('Cold start: bundle size');
    expect(texts.some((text) => text.startsWith('Fan-out') || text.startsWith('DynamoDB'))).toBe(false);
  });

  it('renders text into the PNG with the font it ships with', () => {
    const svg = (text: string) =>
      `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30"><rect width="120" height="30" fill="white"/>` +
      `<text x="4" y="20" font-family="Source Sans 3" font-size="14">${text}</text></svg>`;

    const withText = chartPng(svg('target ≤ 1.2×'));
    const withoutText = chartPng(svg(''));

    expect(withText.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(withText.readUInt32BE(16)).toBe(240);
    expect(withText.equals(withoutText)).toBe(false);
  });
});
