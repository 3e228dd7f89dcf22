import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { ChatMetrics, MetricName } from '../domain/observability.ts';

/** Powertools Metrics: CloudWatch embedded metric format, written to the log, no API calls. */
export class PowertoolsChatMetrics implements ChatMetrics {
  readonly #metrics = new Metrics({ namespace: 'WsChat', serviceName: 'ws-chat' });

  count(name: MetricName, value = 1): void {
    if (value > 0) this.#metrics.addMetric(name, MetricUnit.Count, value);
  }

  publish(): void {
    this.#metrics.publishStoredMetrics();
  }
}
