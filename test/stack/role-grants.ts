import type { AwsCall } from '../support/aws-call-recorder.ts';
import { actionsOf, type Resources, type Statement, statementsOf } from './packaged-template.ts';

/**
 * Stand-ins for what CloudFormation only knows at deploy time. Any fixed values do: the recorded calls and
 * the template's statements are evaluated with the same ones.
 */
const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'stack',
};

/** The ARN a resource of the template will have, from its type and name. */
function arnOf(logicalId: string, resources: Resources): string {
  const resource = resources[logicalId];
  const { 'AWS::Partition': partition, 'AWS::Region': region, 'AWS::AccountId': account } = PSEUDO_PARAMETERS;
  const named = (property: string): string => {
    const name = resource?.Properties?.[property];
    return name === undefined ? logicalId : evaluate(name, resources);
  };
  switch (resource?.Type) {
    case 'AWS::DynamoDB::Table':
      return `arn:${partition}:dynamodb:${region}:${account}:table/${named('TableName')}`;
    case 'AWS::SQS::Queue':
      return `arn:${partition}:sqs:${region}:${account}:${named('QueueName')}`;
    case 'AWS::SNS::Topic':
      return `arn:${partition}:sns:${region}:${account}:${named('TopicName')}`;
    default:
      throw new Error(
        `cannot tell the ARN of ${logicalId} (${resource?.Type ?? 'not in the template'}); teach arnOf its type`,
      );
  }
}

/** `Ref`: a pseudo parameter's stand-in, or the logical id itself as the stand-in for a resource's physical id. */
function refOf(name: string, resources: Resources): string {
  const pseudo = PSEUDO_PARAMETERS[name];
  if (pseudo !== undefined) return pseudo;
  if (resources[name] === undefined) throw new Error(`Ref to ${name}, which the template does not declare`);
  return name;
}

function substitute(text: string, resources: Resources): string {
  return text.replace(/\$\{(!?)([^}]+)\}/g, (_, literal: string, name: string) => {
    if (literal === '!') return `\${${name}}`;
    const [logicalId, attribute] = name.includes('::') ? [name, undefined] : name.split('.');
    if (attribute === undefined) return refOf(logicalId ?? name, resources);
    if (attribute !== 'Arn') throw new Error(`cannot evaluate \${${name}}: only the Arn attribute is known`);
    return arnOf(logicalId ?? name, resources);
  });
}

/**
 * Evaluates a policy's resource as CloudFormation would (`Ref`, `Fn::GetAtt` of an Arn, `Fn::Sub`,
 * `Fn::Join`), with fixed stand-ins for the account, region and physical ids. A recorded call's resource is
 * a string in `Fn::Sub` notation and evaluates the same way.
 */
export function evaluate(value: unknown, resources: Resources): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 1) {
    const [[fn, argument]] = Object.entries(value) as [[string, unknown]];
    if (fn === 'Ref' && typeof argument === 'string') return refOf(argument, resources);
    if (fn === 'Fn::GetAtt' && Array.isArray(argument) && argument[1] === 'Arn')
      return arnOf(String(argument[0]), resources);
    if (fn === 'Fn::Sub' && typeof argument === 'string') return substitute(argument, resources);
    if (fn === 'Fn::Join' && Array.isArray(argument) && Array.isArray(argument[1])) {
      return (argument[1] as unknown[]).map((part) => evaluate(part, resources)).join(String(argument[0]));
    }
  }
  throw new Error(`cannot evaluate ${JSON.stringify(value)} offline`);
}

/** IAM's wildcards: `*` any run of characters, `?` any one; actions compare without regard to case. */
function wildcardMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}

/** One action on one resource pattern, as a statement of a role allows or denies it. */
interface Grant {
  readonly effect: 'Allow' | 'Deny';
  readonly action: string;
  readonly resource: string;
}

function grantsOf(statements: readonly Statement[], resources: Resources): { grants: Grant[]; unsupported: string[] } {
  const grants: Grant[] = [];
  const unsupported: string[] = [];
  for (const statement of statements) {
    // Conditions and negations cannot be judged from the template alone; say so rather than guess.
    if (statement.Condition !== undefined || statement.NotAction !== undefined || statement.NotResource !== undefined) {
      unsupported.push(JSON.stringify(statement));
      continue;
    }
    const effect = statement.Effect === 'Deny' ? 'Deny' : 'Allow';
    const patterns = [statement.Resource].flat().map((resource) => evaluate(resource, resources));
    for (const action of actionsOf(statement))
      for (const resource of patterns) grants.push({ effect, action, resource });
  }
  return { grants, unsupported };
}

const covers = (grant: Grant, call: AwsCall): boolean =>
  wildcardMatch(grant.action, call.action, true) && wildcardMatch(grant.resource, call.resource, false);

/** A resource for a person to read: a connection id stands for every one. */
const readable = (resource: string): string => resource.replace(/(@connections\/)[^/]+$/, '$1{connectionId}');

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
    const allowed = grants.some((g) => g.effect === 'Allow' && covers(g, call));
    const denied = grants.some((g) => g.effect === 'Deny' && covers(g, call));
    if (!allowed || denied) {
      missing.add(
        `${functionName} performs ${call.action} on ${readable(call.resource)}, which its role ${roleName} does not allow`,
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
        `${roleName} grants the wildcard ${grant.action} on ${readable(grant.resource)}; name each action ${functionName} performs`,
      );
    } else if (!calls.some((call) => covers(grant, call))) {
      excess.add(
        `${roleName} grants ${grant.action} on ${readable(grant.resource)}, which no scenario of ${functionName} performs: ` +
          'remove the grant, or add the scenario that needs it',
      );
    }
  }
  return { missing: [...missing].sort(), excess: [...excess].sort() };
}

/** A function's distinct calls, one line each (`dynamodb:GetItem ${ChatTable.Arn}`), sorted: for reports and messages. */
export function callSummary(calls: readonly AwsCall[]): string[] {
  return [...new Set(calls.map((call) => `${call.action} ${readable(call.resource)}`))].sort();
}
