import type { BroadcastReport } from './chat-service.ts';

/**
 * Structured log lines; the composition root decides where they go (Powertools in Lambda, a recorder in
 * tests). An error goes in a field as the Error itself, so that the logger formats it whole: its cause,
 * and its own fields such as a DeliveryError's connection and reason.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Keys added to every line until {@link resetKeys}: the connection, route and request of an invocation. */
  appendKeys(keys: Record<string, unknown>): void;
  resetKeys(): void;
}

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
  | 'RefusedFrames'
  | 'HandshakesRefused'
  | 'ShardJobs';

/** Counts per invocation, published when the invocation ends. */
export interface ChatMetrics {
  /** Adds to a count; with dimensions (e.g. a refusal's `Reason`), to that count of its own. */
  count(name: MetricName, value?: number, dimensions?: Readonly<Record<string, string>>): void;
  publish(): void;
}

/** Adds a fan-out's figures: deliveries, gone members, failures (throttled ones also on their own), shard jobs. */
export function countFanOut(metrics: ChatMetrics, report: BroadcastReport): void {
  metrics.count('Deliveries', report.delivered);
  metrics.count('Gone', report.gone);
  metrics.count('FailedDeliveries', report.failed);
  metrics.count('Throttled', report.failures.filter((f) => f.reason === 'throttled').length);
  // A big room's fan-out handed to the worker: its deliveries are counted where the shard jobs run.
  if (report.shards > 0) metrics.count('ShardJobs', report.shards);
}
