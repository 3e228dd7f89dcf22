/**
 * What each function asked IAM for, and what it was told: the least-privilege report (scripts/iam-report.ts) reads
 * these after a test run, from every local stack and stack test that checked calls, to list the calls each function
 * made and the permissions no test used. Each file holds the roles it was judged by, so that calls recorded under
 * different stages are each weighed against their own stage's resources.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AwsCall } from './aws-calls.ts';
import type { Decision, Resources } from './policy.ts';

/** One function's calls of one action on one resource (`Fn::Sub` notation), counted by outcome. */
export interface UsageEntry {
  readonly functionName: string;
  readonly action: string;
  readonly resource: string;
  allowed: number;
  denied: number;
}

/** What one local stack or stack test recorded, with the template it judged the calls by. */
export interface UsageRecord {
  readonly stage: string;
  /** Each function's role, by the function's serverless.yml name. */
  readonly roles: Readonly<Record<string, string>>;
  readonly resources: Resources;
  readonly entries: readonly UsageEntry[];
}

/** The environment variable naming the folder usage is written to; unset, nothing is written. */
export const USAGE_DIR_VARIABLE = 'CHAT_IAM_USAGE_DIR';

/** A resource for a person to read: one connection id stands for every one. */
export const readableResource = (resource: string): string =>
  resource.replace(/(@connections\/)[^/]+$/, '$1{connectionId}');

export class UsageLog {
  readonly #entries = new Map<string, UsageEntry>();

  record(functionName: string, call: AwsCall, decision: Decision): void {
    const resource = readableResource(call.resource);
    const key = `${functionName}\n${call.action}\n${resource}`;
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { functionName, action: call.action, resource, allowed: 0, denied: 0 };
      this.#entries.set(key, entry);
    }
    if (decision === 'allowed') entry.allowed += 1;
    else entry.denied += 1;
  }

  entries(): UsageEntry[] {
    return [...this.#entries.values()].map((entry) => ({ ...entry }));
  }

  /**
   * Writes the log every 2 s, and once more on `stop`, to `<CHAT_IAM_USAGE_DIR>/<name>.json`, while a test run names
   * that folder and `judgedBy` says what the calls were judged by (undefined: nothing to write, as for a run that
   * revoked permissions on purpose).
   */
  writePeriodically(name: string, judgedBy: () => Omit<UsageRecord, 'entries'> | undefined): { stop(): void } {
    const write = (): void => {
      const folder = process.env[USAGE_DIR_VARIABLE];
      const judged = judgedBy();
      if (folder !== undefined && folder !== '' && judged !== undefined) this.writeTo(folder, name, judged);
    };
    const timer = setInterval(write, 2_000).unref();
    return {
      stop() {
        clearInterval(timer);
        write();
      },
    };
  }

  /** Writes every entry so far to `<folder>/<name>.json`, replacing what an earlier write of this log left. */
  writeTo(folder: string, name: string, judgedBy: Omit<UsageRecord, 'entries'>): void {
    if (this.#entries.size === 0) return;
    mkdirSync(folder, { recursive: true });
    const record: UsageRecord = { ...judgedBy, entries: this.entries() };
    writeFileSync(join(folder, `${name}.json`), JSON.stringify(record));
  }
}

/** Every usage record in the folder; none when it does not exist. */
export function readUsage(folder: string): UsageRecord[] {
  let files: string[];
  try {
    files = readdirSync(folder).filter((file) => file.endsWith('.json'));
  } catch {
    return [];
  }
  return files.sort().map((file) => JSON.parse(readFileSync(join(folder, file), 'utf8')) as UsageRecord);
}
