/**
 * `serverless package` without an AWS account, in a service folder of its own: what the stack tests read and what
 * `npm run docs:deploy` lists. osls packages through `<service>/.serverless` whatever `--package` says, and deletes it
 * first; in a folder of its own that is never the project's (where `npm run package` leaves its output).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Resources } from './local-iam/policy.ts';
import { projectRoot } from './local-stack.ts';

const run = promisify(execFile);

// Taken at import, before a test changes the environment (the stack tests point the AWS SDK at loopback endpoints).
// CHAT_ESBUILD_DIR is left out: this packaging is `npm run package`'s own, into serverless.yml's default folder.
const environment = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'CHAT_ESBUILD_DIR'));

/** What packaging writes into its service folder, and what no packaging here may share with the project. */
const OWN_FOLDERS = new Set(['.serverless', '.esbuild', '.git']);

/** The template CloudFormation would deploy, as far as these scripts read it. */
export interface Template {
  readonly Resources: Resources;
  readonly Conditions?: Record<string, unknown>;
}

/**
 * A service folder in the system's temporary folder: the project's files linked into it, but a copy of
 * serverless.yml (osls does not take a linked one). The caller removes it.
 */
export async function serviceFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'chat-service-'));
  for (const entry of await readdir(projectRoot)) {
    if (OWN_FOLDERS.has(entry)) continue;
    if (entry === 'serverless.yml') await copyFile(join(projectRoot, entry), join(folder, entry));
    else await symlink(join(projectRoot, entry), join(folder, entry));
  }
  return folder;
}

/** What `serverless package` printed when it refused to package. */
export class PackagingRefusedError extends Error {
  constructor(output: string, options: { cause: unknown }) {
    super(output, options);
    this.name = 'PackagingRefusedError';
  }
}

/**
 * Packages the service in `service` (a serviceFolder()) into `<into>/<stage>`, as `npm run package` does, and reads
 * the template; `env` adds variables to the packaging shell's environment.
 */
export async function packageStack(
  service: string,
  stage: string,
  params: readonly string[],
  into: string,
  env: Record<string, string> = {},
): Promise<Template> {
  const dir = join(into, stage);
  try {
    await run(
      join(projectRoot, 'node_modules', '.bin', 'serverless'),
      ['package', '--stage', stage, '--package', dir, ...params.map((p) => `--param=${p}`)],
      {
        cwd: service,
        timeout: 150_000,
        // Packaging needs no AWS account: no credentials, no network.
        env: { ...environment, ...env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '' },
      },
    );
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new PackagingRefusedError(`${stdout}${stderr}`, { cause: error });
  }
  return JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
}
