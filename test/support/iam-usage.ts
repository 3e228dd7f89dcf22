/**
 * The least-privilege report around a test run (jest's globalSetup and globalTeardown). Before the run, a fresh
 * folder where every local stack and the stack tests write each function's calls and IAM's answers
 * (scripts/local-iam). After it, when `CHAT_IAM_REPORT=check` (as `npm test` sets), the report over those calls:
 * a refused call, a permission no test used (unless only AWS uses it), or a table of calls per function in docs/operations.md that
 * differs from the calls made fails the run. `.results/iam-report.md` is the report itself.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { DEFAULT_USAGE_FOLDER, runReport } from '../../scripts/iam-report.ts';
import { USAGE_DIR_VARIABLE } from '../../scripts/local-iam/usage-log.ts';

export async function setup(): Promise<void> {
  if ((process.env[USAGE_DIR_VARIABLE] ?? '') !== '') return;
  rmSync(DEFAULT_USAGE_FOLDER, { recursive: true, force: true });
  mkdirSync(DEFAULT_USAGE_FOLDER, { recursive: true });
  // The test workers, and the local stacks they start, inherit it.
  process.env[USAGE_DIR_VARIABLE] = DEFAULT_USAGE_FOLDER;
}

/** Whether the run was narrowed to some tests, whose calls cannot show what the whole suite needs. */
function narrowed(globalConfig: { testPathPatterns?: unknown; testNamePattern?: unknown }): boolean {
  const paths = globalConfig.testPathPatterns as { patterns?: unknown[] } | unknown[] | undefined;
  const patterns = Array.isArray(paths) ? paths : (paths?.patterns ?? []);
  return patterns.length > 0 || Boolean(globalConfig.testNamePattern);
}

export async function teardown(globalConfig: { testPathPatterns?: unknown; testNamePattern?: unknown }): Promise<void> {
  if (process.env['CHAT_IAM_REPORT'] !== 'check') return;
  if (narrowed(globalConfig)) {
    console.log('Least privilege: not checked, the run was narrowed to some tests.');
    return;
  }
  const report = runReport(process.env[USAGE_DIR_VARIABLE] ?? DEFAULT_USAGE_FOLDER, false);
  if (report.errors.length > 0)
    throw new Error(`Least privilege (.results/iam-report.md):\n${report.errors.map((e) => `- ${e}`).join('\n')}`);
  console.log('Least privilege: every call allowed, every permission used by a test or marked AWS only.');
}
