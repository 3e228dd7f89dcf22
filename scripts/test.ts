/** `npm test [-- <jest arguments>]`: jest with ES modules on, over the tiers scripts/test-arguments.ts picks. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { projectRoot } from './local-stack.ts';
import { testRun } from './test-arguments.ts';

const run = testRun(process.argv.slice(2), (arg) => existsSync(arg));
const jest = createRequire(import.meta.url).resolve('jest/bin/jest');
const child = spawn(process.execPath, [jest, ...run.args], {
  cwd: projectRoot,
  stdio: 'inherit',
  env: {
    ...process.env,
    NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --experimental-vm-modules`.trim(),
    ...(run.iamCheck ? { CHAT_IAM_REPORT: process.env['CHAT_IAM_REPORT'] ?? 'check' } : {}),
  },
});
// Ctrl-C reaches jest too (one process group); this process waits for it and exits as it did.
process.on('SIGINT', () => undefined);
child.once('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
