/**
 * What the local IAM judges by, as the emulator's plugin resolved it from serverless.yml: each function's role and
 * access key, the template's resources, and the permissions a test revoked. The plugin writes it to a file when the
 * process that started the stack checks dynalite's requests itself (scripts/local-stack.ts), which reads it back.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dynamoDbCalls, type WireRequest } from './aws-calls.ts';
import { checkRequest, type Principal, type Refusal } from './iam-proxy.ts';
import { type Resources, RolePolicy, type Statement } from './policy.ts';
import type { UsageLog, UsageRecord } from './usage-log.ts';

export interface LocalPolicy {
  readonly stage: string;
  /** Each function's role, by the function's serverless.yml name. */
  readonly roles: Readonly<Record<string, string>>;
  /** Each function's access key, by the function's name. */
  readonly keys: Readonly<Record<string, string>>;
  readonly resources: Resources;
  /** Denials a test added to a role (CHAT_IAM_REVOKE), by role. */
  readonly revoked: Readonly<Record<string, readonly Statement[]>>;
  /** Each table by its local name, as its ARN in `Fn::Sub` notation. */
  readonly tables: Readonly<Record<string, string>>;
}

/** The environment variable naming the file; set by scripts/local-stack.ts when it checks dynalite itself. */
export const POLICY_FILE_VARIABLE = 'CHAT_IAM_POLICY_FILE';

export function principalsOf(policy: LocalPolicy): Map<string, Principal> {
  return new Map(
    Object.entries(policy.roles).map(([functionName, role]) => [
      policy.keys[functionName] ?? '',
      { functionName, policy: new RolePolicy(role, policy.resources, policy.revoked[role]) },
    ]),
  );
}

/** What usage records say their calls were judged by; undefined for a run that revoked permissions on purpose. */
export function judgedBy(policy: LocalPolicy): Omit<UsageRecord, 'entries'> | undefined {
  return Object.keys(policy.revoked).length > 0
    ? undefined
    : { stage: policy.stage, roles: policy.roles, resources: policy.resources };
}

export const writePolicy = (file: string, policy: LocalPolicy): void => writeFileSync(file, JSON.stringify(policy));
export const readPolicy = (file: string): LocalPolicy => JSON.parse(readFileSync(file, 'utf8')) as LocalPolicy;

/** The check of DynamoDB requests by the policy, counting each call in `usage`. */
export function dynamoDbCheck(policy: LocalPolicy, usage: UsageLog): (request: WireRequest) => Refusal | undefined {
  const options = {
    service: 'dynamodb' as const,
    decode: dynamoDbCalls(policy.tables),
    principals: principalsOf(policy),
    resources: policy.resources,
    usage,
  };
  return (request) => checkRequest(options, request);
}
