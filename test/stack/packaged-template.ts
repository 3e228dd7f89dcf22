import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../scripts/local-stack.ts';

const run = promisify(execFile);

export type { Resource, Resources, Statement } from '../../scripts/local-iam/policy.ts';
export { actionsOf, statementsOf } from '../../scripts/local-iam/policy.ts';
import type { Resource, Resources } from '../../scripts/local-iam/policy.ts';

// Taken before any test changes the environment (the stack tests point the AWS SDK at loopback endpoints).
// CHAT_ESBUILD_DIR is left out: the packaging here is `npm run package`'s own, into serverless.yml's default folder.
const environment = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'CHAT_ESBUILD_DIR'));

/** What packaging writes into its service folder, and what no packaging here may share with the project. */
const OWN_FOLDERS = new Set(['.serverless', '.esbuild', '.git']);

/**
 * A service folder of the caller's own, in the system's temporary folder: the project's files linked into it, but a
 * copy of serverless.yml (osls does not take a linked one). osls packages through `<service>/.serverless` whatever
 * `--package` says, and deletes it first; here that folder, like `.esbuild`, is this folder's, never the project's.
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
 * Packages the service offline in `service` (a serviceFolder()), as `npm run package` does, and reads the stack
 * CloudFormation would deploy; `env` adds variables to the packaging shell's environment.
 */
export async function packaged(
  service: string,
  stage: string,
  params: string[],
  into: string,
  env: Record<string, string> = {},
): Promise<Resources> {
  const dir = join(into, stage);
  try {
    await run(
      join(projectRoot, 'node_modules', '.bin', 'serverless'),
      ['package', '--stage', stage, '--package', dir, ...params.map((p) => `--param=${p}`)],
      {
        cwd: service,
        timeout: 150_000,
        // Packaging needs no AWS account: no credentials, no network. Bundles go to the service folder's .esbuild.
        env: { ...environment, ...env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '' },
      },
    );
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new PackagingRefusedError(`${stdout}${stderr}`, { cause: error });
  }
  const template = JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as {
    Resources: Resources;
  };
  return template.Resources;
}

/** Our handlers' functions; the framework adds one of its own for API Gateway's logging role. */
export function functionsOf(resources: Resources): Array<[string, Resource]> {
  return Object.entries(resources).filter(
    ([, r]) => r.Type === 'AWS::Lambda::Function' && String(r.Properties?.['Handler']).startsWith('src/handlers/'),
  );
}

/** The serverless.yml name of a packaged function: `src/handlers/functions/connect.handler` is `connect`. */
export function functionName(fn: Resource): string {
  return String(fn.Properties?.['Handler'])
    .replace(/^src\/handlers\/functions\//, '')
    .replace(/\.handler$/, '');
}

export function roleOfFunction(fn: Resource): string {
  const role = fn.Properties?.['Role'] as { 'Fn::GetAtt'?: [string, string] } | undefined;
  return role?.['Fn::GetAtt']?.[0] ?? '';
}
