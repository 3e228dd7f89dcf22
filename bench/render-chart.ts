/**
 * Redraws the benchmark chart from a results.json without running the bench again.
 *
 *   node bench/render-chart.ts [--from .results/bench/results.json] [--png FILE] [--svg FILE]
 *
 * Writes chart.svg and chart.png beside the results, or where --svg and --png say (--png alone writes only the
 * PNG): `--from bench/readme-figures.json --png docs/benchmark.png` redraws the README's chart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { type ChartInput, chartPng, chartSvg } from './chart.ts';

const results = z.object({
  fanout: z
    .array(
      z.object({
        n: z.number(),
        concurrency: z.number(),
        onLimit: z.string(),
        ratio: z.number(),
        peakHeapMb: z.number(),
      }),
    )
    .default([]),
  dynamodb: z
    .object({
      listings: z.array(
        z.object({
          target: z.string(),
          layout: z.string(),
          rows: z.number(),
          pageSize: z.string(),
          rcu: z.number(),
          idealKeysOnlyRcu: z.number(),
        }),
      ),
    })
    .optional(),
  coldStart: z
    .object({
      runs: z.number(),
      bundles: z.array(
        z.object({ variant: z.string(), handler: z.string(), bytes: z.number(), importMedianMs: z.number() }),
      ),
    })
    .optional(),
  e2e: z
    .object({ rows: z.array(z.object({ server: z.string(), clients: z.number(), lastP50Ms: z.number() })) })
    .optional(),
});

const { values } = parseArgs({
  options: { from: { type: 'string' }, png: { type: 'string' }, svg: { type: 'string' } },
  strict: true,
});
const from = values.from ?? join(import.meta.dirname, '..', '.results', 'bench', 'results.json');
const input: ChartInput = results.parse(JSON.parse(readFileSync(from, 'utf8')));
const svg = await chartSvg(input);
const svgPath = values.svg ?? join(dirname(from), 'chart.svg');
const pngPath = values.png ?? join(dirname(from), 'chart.png');
if (values.png === undefined || values.svg !== undefined) writeFileSync(svgPath, svg);
writeFileSync(pngPath, chartPng(svg));
console.log(`Chart: ${pngPath}`);
