/**
 * A loopback proxy in front of a local service endpoint (dynalite, fauxqs, serverless-offline's @connections API)
 * that does what IAM does on AWS: it tells the caller by the access key id of the request's SigV4 credential, judges
 * every call the request makes against that caller's role, and refuses a call the role does not allow the way the
 * service refuses it (AccessDeniedException), so that the handlers' own error paths run. What it allows it forwards
 * unchanged. Signatures are not verified: every key is the local stack's own.
 */
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { bodyOf, forward, LoopbackServer } from '../loopback-server.ts';
import type { AwsCall, CallDecoder, WireRequest } from './aws-calls.ts';
import { type Decision, evaluate, PSEUDO_PARAMETERS, type Resources, type RolePolicy } from './policy.ts';
import type { UsageLog } from './usage-log.ts';

/** The services a proxy can stand in front of, by IAM prefix. */
export type CheckedService = 'dynamodb' | 'sqs' | 'execute-api';

/** Who signs with an access key: a function and the role it runs with. */
export interface Principal {
  readonly functionName: string;
  readonly policy: RolePolicy;
}

/** What judges one service's requests: its callers, how to read a request's calls, and where to count them. */
export interface IamCheckOptions {
  readonly service: CheckedService;
  readonly decode: CallDecoder;
  /** Callers by access key id. */
  readonly principals: ReadonlyMap<string, Principal>;
  /** The template's resources, to evaluate a call's resource (`${ChatTable.Arn}`) to an ARN. */
  readonly resources: Resources;
  readonly usage: UsageLog;
}

export interface IamProxyOptions extends IamCheckOptions {
  /** The endpoint requests that pass are forwarded to. */
  readonly target: string;
  /** Connections kept open to the target; a fan-out keeps up to BROADCAST_CONCURRENCY sends in flight. */
  readonly maxSockets?: number;
}

/** The access key id of a SigV4 `Authorization` header (`AWS4-HMAC-SHA256 Credential=<key>/<date>/...`). */
export function accessKeyIdOf(authorization: string | undefined): string | undefined {
  return authorization === undefined ? undefined : /Credential=([^/,\s]+)\//.exec(authorization)?.[1];
}

/** What a service answers a request instead of serving it. */
export interface Refusal {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The answer each service gives a call that IAM refused, with AWS's wording. */
export function accessDenied(
  service: CheckedService,
  principal: Principal,
  action: string,
  resource: string,
  why: Decision,
): Refusal {
  const user = `arn:${PSEUDO_PARAMETERS['AWS::Partition']}:sts::${PSEUDO_PARAMETERS['AWS::AccountId']}:assumed-role/${principal.policy.roleName}/${principal.functionName}`;
  const reason =
    why === 'explicit-deny'
      ? 'with an explicit deny in an identity-based policy'
      : `because no identity-based policy allows the ${action} action`;
  const message = `User: ${user} is not authorized to perform: ${action} on resource: ${resource} ${reason}`;
  return refusal(service, 'AccessDeniedException', 'AccessDenied', message);
}

function refusal(service: CheckedService, type: string, queryCode: string, message: string): Refusal {
  switch (service) {
    case 'dynamodb':
      return {
        status: 400,
        headers: { 'content-type': 'application/x-amz-json-1.0' },
        body: JSON.stringify({ __type: `com.amazon.coral.service#${type}`, message }),
      };
    case 'sqs':
      return {
        status: 403,
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': `${queryCode};Sender` },
        body: JSON.stringify({ __type: `com.amazon.coral.service#${type}`, message }),
      };
    case 'execute-api':
      return {
        status: 403,
        headers: { 'content-type': 'application/json', 'x-amzn-errortype': type },
        body: JSON.stringify({ Message: message }),
      };
  }
}

const UNRECOGNIZED = 'The security token included in the request is invalid.';

/** Resources already evaluated, per template: a handler names the same few again and again. */
const evaluated = new WeakMap<Resources, Map<string, string>>();

function arnOf(resource: string, resources: Resources): string {
  let cache = evaluated.get(resources);
  if (cache === undefined) {
    cache = new Map();
    evaluated.set(resources, cache);
  }
  let arn = cache.get(resource);
  if (arn === undefined) {
    arn = evaluate({ 'Fn::Sub': resource }, resources);
    // Every @connections call names its own connection: keep the cache bounded.
    if (cache.size >= 10_000) cache.clear();
    cache.set(resource, arn);
  }
  return arn;
}

/**
 * Judges every call of one request against the caller's role and counts each in `usage`; answers AWS's refusal
 * of the first call the role does not allow, or undefined when every call may pass.
 */
export function judge(
  principal: Principal,
  calls: readonly AwsCall[],
  resources: Resources,
  usage: UsageLog,
): Refusal | undefined {
  let refusal: Refusal | undefined;
  for (const call of calls) {
    const resource = arnOf(call.resource, resources);
    const decision = principal.policy.decide({ action: call.action, resource });
    usage.record(principal.functionName, call, decision);
    if (decision !== 'allowed' && refusal === undefined)
      refusal = accessDenied(call.service as CheckedService, principal, call.action, resource, decision);
  }
  return refusal;
}

/**
 * The access key of the local stack's own tooling and the tests' clients (scripts/local-stack.ts): they arrange and
 * inspect the local services the way an administrator would, and are not judged. Functions never sign with it
 * while the local IAM is on.
 */
export const ADMIN_ACCESS_KEY = 'local';

/**
 * Answers AWS's refusal of a request its caller may not make (an unknown key, or a call its role does not allow),
 * or undefined when it may pass. Every call of a function is counted in the usage log; the administrator's pass.
 */
export function checkRequest(options: IamCheckOptions, request: WireRequest): Refusal | undefined {
  const key = accessKeyIdOf(request.headers.authorization);
  if (key === ADMIN_ACCESS_KEY) return undefined;
  const principal = options.principals.get(key ?? '');
  if (principal === undefined)
    return refusal(options.service, 'UnrecognizedClientException', 'InvalidClientTokenId', UNRECOGNIZED);
  return judge(principal, options.decode(request), options.resources, options.usage);
}

/** A request as a check reads it: as it came, with its whole body. */
export const wireRequestOf = (request: IncomingMessage, body: Buffer): WireRequest => ({
  method: request.method ?? 'GET',
  path: request.url ?? '/',
  headers: request.headers,
  body,
});

/** Answers a request with a service's refusal instead of serving it. */
export const refuse = (response: ServerResponse, refusal: Refusal): void =>
  void response.writeHead(refusal.status, refusal.headers).end(refusal.body);

export class IamCheckingProxy extends LoopbackServer {
  readonly #options: IamProxyOptions;
  readonly #target: URL;
  readonly #upstream: Agent;

  constructor(options: IamProxyOptions) {
    super(`${options.service} IAM proxy`);
    this.#options = options;
    this.#target = new URL(options.target);
    this.#upstream = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 256 });
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.#upstream.destroy();
  }

  protected override async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await bodyOf(request);
    const refusal = checkRequest(this.#options, wireRequestOf(request, body));
    if (refusal !== undefined) {
      refuse(response, refusal);
      return;
    }
    try {
      const upstream = await forward(this.#upstream, this.#target, request, body);
      response.writeHead(upstream.status, upstream.headers).end(upstream.body);
    } catch {
      request.socket.destroy();
    }
  }
}
