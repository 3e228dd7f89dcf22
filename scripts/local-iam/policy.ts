/**
 * IAM's judgement of one call, offline: a role's statements as the template states them, evaluated with fixed
 * stand-ins for what CloudFormation only knows at deploy time, and matched with IAM's rules (an explicit Deny wins,
 * then any Allow, else the call is implicitly denied). Used by the local stack's checking proxies and by the stack
 * tests that read the packaged template.
 */

export interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}
export type Resources = Record<string, Resource>;
export interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action?: string | string[];
  readonly NotAction?: unknown;
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
  readonly Condition?: unknown;
}

/** Stand-ins for CloudFormation's pseudo parameters. Any fixed values do, used alike for calls and statements. */
export const PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'stack',
};

/**
 * Resources the framework adds to the template that a role may name: a `Ref` to one stands for its physical id.
 * serverless.yml's own resources do not hold them, so the local stack names them here.
 */
export const FRAMEWORK_RESOURCES: Resources = {
  WebsocketsApi: { Type: 'AWS::ApiGatewayV2::Api' },
  HttpApi: { Type: 'AWS::ApiGatewayV2::Api' },
};

export const actionsOf = (statement: Statement): string[] =>
  statement.Action === undefined ? [] : [statement.Action].flat();

/** Every statement of a role's inline policies, or of a managed policy. */
export function statementsOf(resources: Resources, roleName: string): Statement[] {
  const role = resources[roleName];
  if (role?.Type === 'AWS::IAM::ManagedPolicy')
    return (role.Properties?.['PolicyDocument'] as { Statement: Statement[] } | undefined)?.Statement ?? [];
  const policies = (role?.Properties?.['Policies'] ?? []) as Array<{ PolicyDocument: { Statement: Statement[] } }>;
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

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
  if (resources[name] === undefined && FRAMEWORK_RESOURCES[name] === undefined)
    throw new Error(`Ref to ${name}, which the template does not declare`);
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
 * Evaluates a policy's resource as CloudFormation would (`Ref`, `Fn::GetAtt` of an Arn, `Fn::Sub`, `Fn::Join`),
 * with fixed stand-ins for the account, region and physical ids. A call's resource is a string in `Fn::Sub`
 * notation and evaluates the same way.
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

const compiledPatterns = new Map<string, RegExp>();

/** IAM's wildcards: `*` any run of characters, `?` any one; actions compare without regard to case. */
export function wildcardMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const key = `${ignoreCase ? 'i' : 's'}${pattern}`;
  let compiled = compiledPatterns.get(key);
  if (compiled === undefined) {
    const source = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    compiled = new RegExp(`^${source}$`, ignoreCase ? 'i' : '');
    // Patterns come from statements, a few dozen per template.
    compiledPatterns.set(key, compiled);
  }
  return compiled.test(value);
}

/** One action on one resource pattern, as a statement of a role allows or denies it. */
export interface Grant {
  readonly effect: 'Allow' | 'Deny';
  readonly action: string;
  readonly resource: string;
  /** The resource as the statement writes it, in `Fn::Sub` notation where it can be: for people to read. */
  readonly label?: string;
}

/** A statement's resource as a person reads it: `${ChatTable.Arn}` for `Fn::GetAtt: [ChatTable, Arn]`. */
export function resourceLabel(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const { Ref, 'Fn::GetAtt': getAtt, 'Fn::Sub': sub } = (resource ?? {}) as Record<string, unknown>;
  if (typeof Ref === 'string') return `\${${Ref}}`;
  if (Array.isArray(getAtt)) return `\${${getAtt.join('.')}}`;
  if (typeof sub === 'string') return sub;
  return JSON.stringify(resource);
}

/** A call as IAM authorises it: an action on one resource (an ARN). */
export interface Request {
  readonly action: string;
  readonly resource: string;
}

export const covers = (grant: Grant, request: Request): boolean =>
  wildcardMatch(grant.action, request.action, true) && wildcardMatch(grant.resource, request.resource, false);

/**
 * A role's statements as grants. Conditions and negations cannot be judged from the template alone: they are
 * returned apart, so that a caller can refuse to guess.
 */
export function grantsOf(
  statements: readonly Statement[],
  resources: Resources,
): { grants: Grant[]; unsupported: string[] } {
  const grants: Grant[] = [];
  const unsupported: string[] = [];
  for (const statement of statements) {
    if (statement.Condition !== undefined || statement.NotAction !== undefined || statement.NotResource !== undefined) {
      unsupported.push(JSON.stringify(statement));
      continue;
    }
    const effect = statement.Effect === 'Deny' ? 'Deny' : 'Allow';
    const patterns = [statement.Resource].flat();
    for (const action of actionsOf(statement))
      for (const pattern of patterns)
        grants.push({ effect, action, resource: evaluate(pattern, resources), label: resourceLabel(pattern) });
  }
  return { grants, unsupported };
}

export type Decision = 'allowed' | 'explicit-deny' | 'implicit-deny';

/** IAM's order: an explicit Deny wins over every Allow; without an Allow, the call is denied implicitly. */
export function decide(grants: readonly Grant[], request: Request): Decision {
  if (grants.some((g) => g.effect === 'Deny' && covers(g, request))) return 'explicit-deny';
  return grants.some((g) => g.effect === 'Allow' && covers(g, request)) ? 'allowed' : 'implicit-deny';
}

/** The role a function runs with (or a managed policy a caller holds), ready to judge its calls. */
export class RolePolicy {
  readonly roleName: string;
  readonly grants: readonly Grant[];

  /** Throws when a statement has a condition or a negation, which this judge cannot evaluate. */
  constructor(roleName: string, resources: Resources, extraStatements: readonly Statement[] = []) {
    const type = resources[roleName]?.Type;
    if (type !== 'AWS::IAM::Role' && type !== 'AWS::IAM::ManagedPolicy')
      throw new Error(`the template has no AWS::IAM::Role or AWS::IAM::ManagedPolicy named ${roleName}`);
    const { grants, unsupported } = grantsOf([...statementsOf(resources, roleName), ...extraStatements], resources);
    if (unsupported.length > 0)
      throw new Error(`${roleName} has statements the local IAM cannot judge: ${unsupported.join('; ')}`);
    this.roleName = roleName;
    this.grants = grants;
  }

  decide(request: Request): Decision {
    return decide(this.grants, request);
  }
}
