import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { ChatMetrics, MetricName } from '../domain/observability.ts';

/** Powertools Metrics: CloudWatch embedded metric format, written to the log, no API calls. */
export class PowertoolsChatMetrics implements ChatMetrics {
  readonly #metrics = new Metrics({ namespace: 'WsChat', serviceName: 'ws-chat' });
  #counted = false;

  count(name: MetricName, value = 1, dimensions?: Readonly<Record<string, string>>): void {
    if (!(value > 0)) return;
    if (dimensions !== undefined) {
      // A metric of its own dimensions is a document of its own, written at once: Powertools applies the
      // dimensions of a document to every metric in it.
      const single = this.#metrics.singleMetric();
      for (const [dimension, dimensionValue] of Object.entries(dimensions))
        single.addDimension(dimension, dimensionValue);
      single.addMetric(name, MetricUnit.Count, value);
      return;
    }
    this.#metrics.addMetric(name, MetricUnit.Count, value);
    this.#counted = true;
  }

  publish(): void {
    // Powertools logs a warning for every publish with nothing stored (a hello, a ping, a flush with no change),
    // and serializes an empty document it then drops: one log line and a little CPU per such invocation, for nothing.
    if (!this.#counted) return;
    this.#counted = false;
    this.#metrics.publishStoredMetrics();
  }
}
