/**
 * What each function asked IAM for, and what it was told: the least-privilege report (scripts/iam-report.ts) reads
 * these after a test run, from every local stack and stack test that checked calls, to list the calls each function
 * made and the permissions no test used.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AwsCall } from './aws-calls.ts';
import type { Decision } from './policy.ts';

/** One function's calls of one action on one resource (`Fn::Sub` notation), counted by outcome. */
export interface UsageEntry {
  readonly functionName: string;
  readonly action: string;
  readonly resource: string;
  allowed: number;
  denied: number;
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

  /** Writes every entry so far to `<folder>/<name>.json`, replacing what an earlier write of this log left. */
  writeTo(folder: string, name: string): void {
    if (this.#entries.size === 0) return;
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, `${name}.json`), JSON.stringify(this.entries()));
  }
}

/** Every usage file in the folder, merged: one entry per function, action and resource. */
export function readUsage(folder: string): UsageEntry[] {
  let files: string[];
  try {
    files = readdirSync(folder).filter((file) => file.endsWith('.json'));
  } catch {
    return [];
  }
  const totals = new Map<string, UsageEntry>();
  for (const file of files) {
    const entries = JSON.parse(readFileSync(join(folder, file), 'utf8')) as UsageEntry[];
    for (const entry of entries) {
      const key = `${entry.functionName}\n${entry.action}\n${entry.resource}`;
      const total = totals.get(key);
      if (total === undefined) totals.set(key, { ...entry });
      else {
        total.allowed += entry.allowed;
        total.denied += entry.denied;
      }
    }
  }
  return [...totals.values()];
}
