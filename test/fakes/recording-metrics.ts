import type { ChatMetrics, MetricName } from '../../src/domain/observability.ts';

/** Sums every count, keeps the dimensions of those that had some, and counts how many times metrics were published. */
export class RecordingMetrics implements ChatMetrics {
  readonly totals = new Map<MetricName, number>();
  /** Every count given dimensions, in order. */
  readonly dimensioned: Array<{ name: MetricName; value: number; dimensions: Readonly<Record<string, string>> }> = [];
  published = 0;

  count(name: MetricName, value = 1, dimensions?: Readonly<Record<string, string>>): void {
    this.totals.set(name, (this.totals.get(name) ?? 0) + value);
    if (dimensions !== undefined) this.dimensioned.push({ name, value, dimensions });
  }

  publish(): void {
    this.published += 1;
  }

  total(name: MetricName): number {
    return this.totals.get(name) ?? 0;
  }
}
