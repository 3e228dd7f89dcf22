/**
 * A serverless-offline companion (serverless.yml's `plugins:`, after the SQS one): IAM, locally. Every function
 * signs its requests with credentials of its own, and every request the handlers make to DynamoDB, SQS and the
 * @connections API is judged against the function's role as the template states it, and refused as AWS would refuse
 * it: through a checking proxy in front of DynamoDB and SQS (scripts/local-iam/iam-proxy.ts), and in the emulator's
 * own @connections routes (scripts/local-iam/connections-check.ts). The queue's event source polls
 * with the worker's credentials too, as Lambda's event source uses the function's role.
 *
 * `CHAT_LOCAL_IAM=off` turns the checks off (the functions then reach the local services directly). For tests
 * only, `CHAT_IAM_REVOKE=FanOutRole:sqs:SendMessage,...` denies an action to a role, to show what AWS would do
 * without it. `CHAT_IAM_USAGE_DIR` names a folder where every call and its outcome are written, for the
 * least-privilege report (scripts/iam-report.ts). Only `serverless offline` runs it.
 */
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { connectionsCalls, dynamoDbCalls, sqsCalls } from './local-iam/aws-calls.ts';
import { isolateFunctionEnvironments } from './local-iam/function-environments.ts';
import { checkConnectionsRoutes } from './local-iam/connections-check.ts';
import { checkRequest, IamCheckingProxy } from './local-iam/iam-proxy.ts';
import { checkHttpApiRoutes, checkSignedRequest, type IamRoute, localCallers } from './local-iam/http-api-check.ts';
import {
  judgedBy,
  type LocalPolicy,
  POLICY_FILE_VARIABLE,
  principalsOf,
  writePolicy,
} from './local-iam/local-policy.ts';
import { FRAMEWORK_RESOURCES, type Resources, type Statement } from './local-iam/policy.ts';
import { UsageLog } from './local-iam/usage-log.ts';
import { localQueueNames, queueNameOf, queueResources } from './local-sqs.ts';

const require = createRequire(import.meta.url);

interface FunctionDefinition {
  name?: string;
  role?: unknown;
  environment?: Record<string, unknown>;
  events?: ReadonlyArray<{ readonly httpApi?: unknown }>;
}

/** The parts of osls's `serverless` object this plugin reads and writes. */
interface Serverless {
  readonly service: {
    readonly service: string;
    readonly provider: {
      stage: string;
      environment?: Record<string, unknown>;
      iam?: { role?: unknown };
    };
    readonly resources?: { readonly Resources?: Resources };
    getAllFunctions(): string[];
    getFunction(key: string): FunctionDefinition;
  };
}

interface Log {
  notice(message: string): void;
  warning(message: string): void;
}

/** A function's role as the template names it: a logical id, or `Fn::GetAtt: [Role, Arn]`. */
function roleName(role: unknown): string | undefined {
  if (typeof role === 'string') return role;
  const getAtt = (role as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
  return Array.isArray(getAtt) && typeof getAtt[0] === 'string' ? getAtt[0] : undefined;
}

/** An `httpApi` event's route when it requires IAM (`authorizer: { type: aws_iam }`). */
function iamRouteOf(httpApi: unknown): IamRoute | undefined {
  if (typeof httpApi !== 'object' || httpApi === null) return undefined;
  const { method, path, authorizer } = httpApi as { method?: unknown; path?: unknown; authorizer?: unknown };
  const type = (authorizer as { type?: unknown } | undefined)?.type;
  if (typeof method !== 'string' || typeof path !== 'string' || String(type).toLowerCase() !== 'aws_iam')
    return undefined;
  return { method: method.toUpperCase(), path };
}

/** `CHAT_IAM_REVOKE`'s denials, by role: `Role:service:Action` entries, comma-separated. */
export function revocations(value: string | undefined): Map<string, Statement[]> {
  const byRole = new Map<string, Statement[]>();
  for (const entry of (value ?? '').split(',').map((part) => part.trim())) {
    if (entry === '') continue;
    const [role, ...action] = entry.split(':');
    if (role === undefined || action.length !== 2)
      throw new Error(`CHAT_IAM_REVOKE: "${entry}" is not Role:service:Action`);
    byRole.set(role, [...(byRole.get(role) ?? []), { Effect: 'Deny', Action: action.join(':'), Resource: '*' }]);
  }
  return byRole;
}

/** The access key a function signs with locally; the proxies tell callers by it. */
export const accessKeyOf = (functionKey: string): string => `LOCAL${functionKey.toUpperCase()}`;

export default class OfflineIamPlugin {
  readonly hooks: Record<string, () => Promise<void>>;
  readonly #serverless: Serverless;
  readonly #log: Log;
  readonly #proxies: IamCheckingProxy[] = [];
  readonly #usage = new UsageLog();
  #usageWriter: { stop(): void } | undefined;
  #started = false;

  constructor(serverless: Serverless, _options: Record<string, unknown>, utils?: { log?: Log }) {
    this.#serverless = serverless;
    this.#log = utils?.log ?? { notice: console.log, warning: console.warn };
    this.hooks = {
      'before:offline:start': () => this.#start(),
      'before:offline:start:init': () => this.#start(),
      'offline:start:end': () => this.#stop(),
    };
  }

  async #start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    // The package's root: its exports name no package.json, so from its main module (src/index.js).
    const offlineRoot = dirname(dirname(require.resolve('serverless-offline')));
    await isolateFunctionEnvironments(offlineRoot);
    this.#checkHttpApi(offlineRoot);
    if (process.env['CHAT_LOCAL_IAM'] === 'off') {
      this.#log.warning('Offline [iam] off (CHAT_LOCAL_IAM=off): no call is checked against its role');
      return;
    }
    const { service } = this.#serverless;
    const { provider } = service;
    const resources: Resources = { ...FRAMEWORK_RESOURCES, ...(service.resources?.Resources ?? {}) };
    const revoked = revocations(process.env['CHAT_IAM_REVOKE']);

    const roles: Record<string, string> = {};
    const keys: Record<string, string> = {};
    for (const key of service.getAllFunctions()) {
      const fn = service.getFunction(key);
      const role = roleName(fn.role ?? provider.iam?.role);
      if (role === undefined) throw new Error(`Offline [iam] ${key} has no role of the template's own`);
      roles[key] = role;
      keys[key] = accessKeyOf(key);
      fn.environment = {
        ...fn.environment,
        AWS_ACCESS_KEY_ID: keys[key],
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_SESSION_TOKEN: '',
      };
    }
    const policy: LocalPolicy = {
      stage: provider.stage,
      roles,
      keys,
      resources,
      revoked: Object.fromEntries(revoked),
      tables: this.#tables(resources),
    };
    const principals = principalsOf(policy);

    const environment = { ...provider.environment };
    const stageResource = `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${WebsocketsApi}/${provider.stage}`;
    // The emulator serves @connections itself, in this process: its routes check each request in place.
    const connections = {
      service: 'execute-api' as const,
      decode: connectionsCalls(stageResource),
      principals,
      resources,
      usage: this.#usage,
    };
    checkConnectionsRoutes(offlineRoot, (request) => checkRequest(connections, request));
    // The process that started the stack checks its dynalite in place when it says so; else a proxy does.
    const policyFile = process.env[POLICY_FILE_VARIABLE];
    if (policyFile !== undefined && policyFile !== '') writePolicy(policyFile, policy);
    const proxied = [
      ['sqs', 'SQS_ENDPOINT', environment['SQS_ENDPOINT'], sqsCalls(this.#queues(resources))] as const,
      ...(policyFile
        ? []
        : [
            [
              'dynamodb',
              'AWS_ENDPOINT_URL_DYNAMODB',
              process.env['AWS_ENDPOINT_URL_DYNAMODB'],
              dynamoDbCalls(policy.tables),
            ] as const,
          ]),
    ];
    for (const [service, variable, target, decode] of proxied) {
      if (typeof target !== 'string' || target === '')
        throw new Error(`Offline [iam] no local ${service} endpoint to check (${variable} is not set)`);
      const proxy = await new IamCheckingProxy({
        service,
        target,
        decode,
        principals,
        resources,
        usage: this.#usage,
      }).start();
      this.#proxies.push(proxy);
      environment[variable] = proxy.endpoint;
    }
    provider.environment = environment;
    // A run that revokes a permission on purpose shows what AWS would refuse; its calls say nothing of what is needed.
    const judged = judgedBy(policy);
    this.#usageWriter = this.#usage.writePeriodically(`offline-${process.pid}`, () => judged);
    this.#log.notice(
      `Offline [iam] every call checked against its function's role: ${Object.entries(roles)
        .map(([key, role]) => `${key} as ${role}`)
        .join(', ')}`,
    );
  }

  /**
   * API Gateway's IAM authorizer on the HTTP API's routes, which the emulator lacks: on even with CHAT_LOCAL_IAM=off,
   * since it stands for API Gateway's check of the callers, not for the functions' roles.
   */
  #checkHttpApi(offlineRoot: string): void {
    const { service } = this.#serverless;
    const resources: Resources = { ...FRAMEWORK_RESOURCES, ...(service.resources?.Resources ?? {}) };
    const routes: IamRoute[] = [];
    const functions: Record<string, { key: string; role: string }> = {};
    for (const key of service.getAllFunctions()) {
      const fn = service.getFunction(key);
      const role = roleName(fn.role ?? service.provider.iam?.role);
      if (role !== undefined) functions[key] = { key: accessKeyOf(key), role };
      for (const event of fn.events ?? []) {
        const route = iamRouteOf(event.httpApi);
        if (route === undefined) continue;
        routes.push(route);
        // The emulator would take the authorizer for a JWT one and fail to start; the check below stands in for it.
        Reflect.deleteProperty(event.httpApi as object, 'authorizer');
      }
    }
    if (routes.length === 0) return;
    const callers = localCallers(resources, functions);
    checkHttpApiRoutes(offlineRoot, routes, (request, resource) =>
      checkSignedRequest(request, resource, callers, resources),
    );
    this.#log.notice(
      `Offline [iam] ${routes.map((r) => `${r.method} ${r.path}`).join(', ')}: SigV4 and execute-api:Invoke checked, as API Gateway's IAM authorizer does`,
    );
  }

  /** Each table of the template by the name the local stack gives it, as its ARN in `Fn::Sub` notation. */
  #tables(resources: Resources): Record<string, string> {
    return Object.fromEntries(
      Object.entries(resources).flatMap(([logicalId, resource]) => {
        const name = resource.Properties?.['TableName'];
        return resource.Type === 'AWS::DynamoDB::Table' && typeof name === 'string'
          ? [[name, `\${${logicalId}.Arn}`]]
          : [];
      }),
    );
  }

  /** Each queue by the name scripts/offline-sqs-plugin.ts gives it locally. */
  #queues(resources: Resources): Record<string, string> {
    const { service } = this.#serverless;
    const fallback = localQueueNames(service.service, service.provider.stage);
    return Object.fromEntries(
      queueResources(resources).map((queue) => [queueNameOf(queue, fallback), `\${${queue.logicalId}.Arn}`]),
    );
  }

  async #stop(): Promise<void> {
    this.#usageWriter?.stop();
    await Promise.all(this.#proxies.splice(0).map((proxy) => proxy.stop()));
  }
}
