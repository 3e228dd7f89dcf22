import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { BroadcastReport } from '../domain/chat-service.ts';

/** The counts operators watch; each is a CloudWatch metric in the `WsChat` namespace. */
export type MetricName =
  | 'Connections'
  | 'Disconnections'
  | 'Messages'
  | 'Deliveries'
  | 'Gone'
  | 'Throttled'
  | 'FailedDeliveries'
  | 'RateLimited'
  | 'RefusedFrames';

/** Counts per invocation, published when the invocation ends. */
export interface ChatMetrics {
  count(name: MetricName, value?: number): void;
  publish(): void;
}

/** Adds a fan-out's figures: deliveries, gone members, and failures (throttled ones also on their own). */
export function countFanOut(metrics: ChatMetrics, report: BroadcastReport): void {
  metrics.count('Deliveries', report.delivered);
  metrics.count('Gone', report.gone);
  metrics.count('FailedDeliveries', report.failed);
  metrics.count('Throttled', report.failures.filter((f) => f.reason === 'throttled').length);
}

/** Powertools Metrics: CloudWatch embedded metric format, written to the log, no API calls. */
export function createPowertoolsMetrics(): ChatMetrics {
  const metrics = new Metrics({ namespace: 'WsChat', serviceName: 'ws-chat' });
  return {
    count: (name, value = 1) => {
      if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
    },
    publish: () => {
      metrics.publishStoredMetrics();
    },
  };
}
