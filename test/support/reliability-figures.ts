import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../../scripts/local-stack.ts';

/** Where each reliability suite leaves its figures, one JSON file per suite; the summary reporter reads them. */
export const FIGURES_DIR = join(projectRoot, '.results', 'reliability');

/** A figure is a count, a measure, or a few named counts. */
export type Figure = number | string | Readonly<Record<string, number>>;

/** What one suite measured, as written to `.results/reliability/<suite>.json`. */
export interface FigureFile {
  readonly suite: string;
  readonly recordedAt: string;
  readonly figures: Readonly<Record<string, Figure>>;
}

/** Writes a suite's figures, replacing those of an earlier run. */
export async function recordFigures(suite: string, figures: Readonly<Record<string, Figure>>): Promise<void> {
  await mkdir(FIGURES_DIR, { recursive: true });
  const file: FigureFile = { suite, recordedAt: new Date().toISOString(), figures };
  await writeFile(join(FIGURES_DIR, `${suite}.json`), `${JSON.stringify(file, null, 2)}\n`);
}

/** Counts values by a key, for figures such as "frames by outcome". */
export function tally<T>(values: Iterable<T>, key: (value: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) {
    const k = key(value);
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}
