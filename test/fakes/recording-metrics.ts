import type { ChatMetrics, MetricName } from '../../src/domain/observability.ts';

/** Sums every count, and counts how many times the invocation's metrics were published. */
export class RecordingMetrics implements ChatMetrics {
  readonly totals = new Map<MetricName, number>();
  published = 0;

  count(name: MetricName, value = 1): void {
    this.totals.set(name, (this.totals.get(name) ?? 0) + value);
  }

  publish(): void {
    this.published += 1;
  }

  total(name: MetricName): number {
    return this.totals.get(name) ?? 0;
  }
}
