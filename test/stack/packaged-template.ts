import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../scripts/local-stack.ts';

const run = promisify(execFile);

export type { Resource, Resources, Statement } from '../../scripts/local-iam/policy.ts';
export { actionsOf, statementsOf } from '../../scripts/local-iam/policy.ts';
import type { Resource, Resources } from '../../scripts/local-iam/policy.ts';

// Taken before any test changes the environment (the stack tests point the AWS SDK at loopback endpoints).
const environment = { ...process.env };

/** The folder serverless-esbuild bundles a stage into, relative to the project; one per test run and stage. */
export const bundleFolder = (stage: string): string => join('.esbuild', `stack-${process.pid}-${stage}`);

/**
 * Packages the service offline, as `npm run package` does, and reads the stack CloudFormation would deploy; `env` adds
 * variables to the packaging shell's environment.
 */
export async function packaged(
  stage: string,
  params: string[],
  into: string,
  env: Record<string, string> = {},
): Promise<Resources> {
  const dir = join(into, stage);
  await run(
    join(projectRoot, 'node_modules', '.bin', 'serverless'),
    ['package', '--stage', stage, '--package', dir, ...params.map((p) => `--param=${p}`)],
    {
      cwd: projectRoot,
      timeout: 150_000,
      // Packaging needs no AWS account: no credentials, no network. Bundles go to a folder of this run's own.
      env: {
        ...environment,
        ...env,
        AWS_ACCESS_KEY_ID: '',
        AWS_SECRET_ACCESS_KEY: '',
        AWS_PROFILE: '',
        CHAT_ESBUILD_DIR: bundleFolder(stage),
      },
    },
  );
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
