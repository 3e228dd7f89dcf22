import type { Logger } from '../../src/domain/observability.ts';

export interface LogEntry {
  readonly level: 'info' | 'error';
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** Keeps every log line in memory so that a test can assert what was logged. */
export class RecordingLogger implements Logger {
  readonly entries: LogEntry[] = [];
  /** The keys every line carries, as the observability middleware sets them. */
  keys: Record<string, unknown> = {};

  info(message: string, fields: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'info', message, fields: { ...this.keys, ...fields } });
  }

  error(message: string, fields: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'error', message, fields: { ...this.keys, ...fields } });
  }

  appendKeys(keys: Record<string, unknown>): void {
    this.keys = { ...this.keys, ...keys };
  }

  resetKeys(): void {
    this.keys = {};
  }

  find(message: string): LogEntry[] {
    return this.entries.filter((entry) => entry.message === message);
  }
}
