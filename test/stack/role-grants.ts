import type { AwsCall } from '../../scripts/local-iam/aws-calls.ts';
import { judge } from '../../scripts/local-iam/iam-proxy.ts';
import {
  covers,
  decide,
  evaluate,
  grantsOf,
  type Resources,
  RolePolicy,
  statementsOf,
} from '../../scripts/local-iam/policy.ts';
import { readableResource, USAGE_DIR_VARIABLE, UsageLog } from '../../scripts/local-iam/usage-log.ts';

export interface RoleCheck {
  /** The serverless.yml name of the function. */
  readonly functionName: string;
  readonly roleName: string;
  /** Every call the function's scenarios made, resources in `Fn::Sub` notation. */
  readonly calls: readonly AwsCall[];
  /** The services whose calls the scenarios record; the role may grant data actions of these only. */
  readonly recordedServices: readonly string[];
  /** Services a role may use that the recorder does not see and that this check ignores (its own logs). */
  readonly unrecordedServices: readonly string[];
}

/** How a role differs from what its function did; both empty when the role is exact. */
export interface RoleComparison {
  /** Calls the function made that its role does not allow: AccessDenied on AWS. */
  readonly missing: readonly string[];
  /** Data actions the role grants that no scenario of the function performs. */
  readonly excess: readonly string[];
}

/**
 * Compares what a function did with what its role allows, both ways; every difference is a sentence naming
 * the function, the role, the action and the resource.
 */
export function compareRole(resources: Resources, check: RoleCheck): RoleComparison {
  const { functionName, roleName, recordedServices, unrecordedServices } = check;
  const missing = new Set<string>();
  const excess = new Set<string>();
  const { grants, unsupported } = grantsOf(statementsOf(resources, roleName), resources);
  for (const statement of unsupported)
    missing.add(`${roleName} has a statement this check cannot judge offline: ${statement}`);
  const calls = check.calls.map((call) => ({ ...call, resource: evaluate({ 'Fn::Sub': call.resource }, resources) }));

  for (const call of calls) {
    if (decide(grants, call) !== 'allowed') {
      missing.add(
        `${functionName} performs ${call.action} on ${readableResource(call.resource)}, which its role ${roleName} does not allow`,
      );
    }
  }

  for (const grant of grants.filter((g) => g.effect === 'Allow')) {
    const service = grant.action.split(':')[0] ?? grant.action;
    if (unrecordedServices.includes(service)) continue;
    if (!recordedServices.includes(service)) {
      excess.add(
        `${roleName} grants ${grant.action}, but no scenario records ${service} calls, so nothing shows ${functionName} needs it`,
      );
    } else if (/[*?]/.test(grant.action)) {
      excess.add(
        `${roleName} grants the wildcard ${grant.action} on ${readableResource(grant.resource)}; name each action ${functionName} performs`,
      );
    } else if (!calls.some((call) => covers(grant, call))) {
      excess.add(
        `${roleName} grants ${grant.action} on ${readableResource(grant.resource)}, which no scenario of ${functionName} performs: ` +
          'remove the grant, or add the scenario that needs it',
      );
    }
  }
  return { missing: [...missing].sort(), excess: [...excess].sort() };
}

/** A function's distinct calls, one line each (`dynamodb:GetItem ${ChatTable.Arn}`), sorted: for reports and messages. */
export function callSummary(calls: readonly AwsCall[]): string[] {
  return [...new Set(calls.map((call) => `${call.action} ${readableResource(call.resource)}`))].sort();
}

/**
 * Judges each function's recorded calls against its role in the packaged template and writes them where the
 * least-privilege report reads them (scripts/iam-report.ts), when a test run names that folder.
 */
export function writeUsage(resources: Resources, stage: string, functions: readonly RoleCheck[]): void {
  const folder = process.env[USAGE_DIR_VARIABLE];
  if (folder === undefined || folder === '') return;
  const usage = new UsageLog();
  for (const { functionName, roleName, calls } of functions)
    judge({ functionName, policy: new RolePolicy(roleName, resources) }, calls, resources, usage);
  const roles = Object.fromEntries(functions.map((check) => [check.functionName, check.roleName]));
  usage.writeTo(folder, `stack-${process.pid}`, { stage, roles, resources });
}
