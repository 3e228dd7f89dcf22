import type { Resource, Resources } from '../../scripts/local-iam/policy.ts';
import { packageStack } from '../../scripts/offline-package.ts';

export type { Resource, Resources, Statement } from '../../scripts/local-iam/policy.ts';
export { actionsOf, statementsOf } from '../../scripts/local-iam/policy.ts';
export { PackagingRefusedError, serviceFolder } from '../../scripts/offline-package.ts';

/**
 * Packages the service in `service` (a serviceFolder()), as `npm run package` does, and reads the stack
 * CloudFormation would deploy; `env` adds variables to the packaging shell's environment.
 */
export async function packaged(
  service: string,
  stage: string,
  params: string[],
  into: string,
  env: Record<string, string> = {},
): Promise<Resources> {
  return (await packageStack(service, stage, params, into, env)).Resources;
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
