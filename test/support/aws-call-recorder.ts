import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { bodyOf, forward, LoopbackServer } from './loopback-server.ts';

/**
 * One call a function made to an AWS service, as IAM authorises it: the IAM action, and the resource in
 * CloudFormation's `Fn::Sub` notation naming the stack's own resources (`${ChatTable.Arn}/index/byRoom`),
 * so that it can be evaluated the same way as the resource of a statement in the packaged template.
 */
export interface AwsCall {
  /** The IAM service prefix: `dynamodb`, `execute-api`, later `sqs`. */
  readonly service: string;
  /** The IAM action, e.g. `dynamodb:GetItem`. */
  readonly action: string;
  readonly resource: string;
}

/** An HTTP request as a service endpoint received it. */
export interface WireRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

/** Turns one request to a service's endpoint into the IAM-authorised calls it makes (one, or one per item). */
export type CallDecoder = (request: WireRequest) => AwsCall[];

/** A canned answer instead of the real one, e.g. AWS's AccessDenied. */
export interface CannedAnswer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body: string;
}

/**
 * Collects the calls each Lambda function makes. Calls are attributed to the function whose work is running
 * (see {@link as}); calls made outside any function's work, such as a test arranging its data, are not kept.
 * Functions run one after another, so one set of proxies serves them all.
 */
export class AwsCallRecorder {
  readonly #calls = new Map<string, AwsCall[]>();
  #current: string | undefined;

  /** Runs `work` with every call it causes attributed to `functionName`. */
  async as<T>(functionName: string, work: () => Promise<T>): Promise<T> {
    if (this.#current !== undefined)
      throw new Error(`calls are already attributed to ${this.#current}; run functions one at a time`);
    this.#current = functionName;
    if (!this.#calls.has(functionName)) this.#calls.set(functionName, []);
    try {
      return await work();
    } finally {
      this.#current = undefined;
    }
  }

  record(calls: readonly AwsCall[]): void {
    if (this.#current === undefined) return;
    this.#calls.get(this.#current)?.push(...calls);
  }

  /** Every function that ran, even one that made no call, with the calls it made in order. */
  byFunction(): ReadonlyMap<string, readonly AwsCall[]> {
    return this.#calls;
  }
}

/**
 * A loopback HTTP proxy in front of a service endpoint (dynalite, a fake @connections API, a local queue)
 * that records what goes over the wire: the SDK clients under test point at it instead of the endpoint.
 */
export class RecordingProxy extends LoopbackServer {
  readonly #target: URL;
  readonly #decode: CallDecoder;
  readonly #recorder: AwsCallRecorder;
  readonly #canned: Array<{ action: string; answer: CannedAnswer }> = [];
  readonly #upstream = new Agent({ keepAlive: true, maxSockets: 32 });

  constructor(targetEndpoint: string, decode: CallDecoder, recorder: AwsCallRecorder) {
    super('recording proxy');
    this.#target = new URL(targetEndpoint);
    this.#decode = decode;
    this.#recorder = recorder;
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.#upstream.destroy();
  }

  /** Answers the next request that makes `action` with `answer` instead of forwarding it; it is still recorded. */
  answerNext(action: string, answer: CannedAnswer): this {
    this.#canned.push({ action, answer });
    return this;
  }

  protected override async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await bodyOf(request);
    const calls = this.#decode({
      method: request.method ?? 'GET',
      path: request.url ?? '/',
      headers: request.headers,
      body,
    });
    this.#recorder.record(calls);
    const canned = this.#canned.findIndex(({ action }) => calls.some((call) => call.action === action));
    const [answer] = canned >= 0 ? this.#canned.splice(canned, 1).map((entry) => entry.answer) : [];
    if (answer !== undefined) {
      response.writeHead(answer.status, answer.headers ?? {}).end(answer.body);
      return;
    }
    try {
      const answer = await forward(this.#upstream, this.#target, request, body);
      response.writeHead(answer.status, answer.headers).end(answer.body);
    } catch {
      request.socket.destroy();
    }
  }
}

/** AWS's answer to a DynamoDB call the caller's role does not allow. */
export const DYNAMODB_ACCESS_DENIED: CannedAnswer = {
  status: 400,
  headers: { 'content-type': 'application/x-amz-json-1.0' },
  body: JSON.stringify({
    __type: 'com.amazon.coral.service#AccessDeniedException',
    message: 'injected: not authorized to perform this action',
  }),
};

interface DynamoDbRequestBody {
  readonly TableName?: string;
  readonly IndexName?: string;
  readonly RequestItems?: Record<string, unknown>;
  readonly TransactItems?: ReadonlyArray<Record<string, { readonly TableName?: string } | undefined>>;
}

/** The IAM action each item of a transaction needs: a transaction is authorised item by item. */
const TRANSACT_ITEM_ACTIONS: Record<string, string> = {
  Get: 'dynamodb:GetItem',
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

/**
 * Decodes DynamoDB's JSON protocol: the operation from `X-Amz-Target` (`DynamoDB_20120810.GetItem` is
 * `dynamodb:GetItem`), the table from the body, and `/index/<IndexName>` for a Query or Scan of an index.
 * Batch operations name every table they touch; a transaction needs each item's own action on its table.
 * `tables` maps each local table name to the resource it stands for, e.g. `{ 'chat-1': '${ChatTable.Arn}' }`.
 */
export function dynamoDbCalls(tables: Readonly<Record<string, string>>): CallDecoder {
  const tableResource = (name: string): string =>
    tables[name] ?? `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/${name}`;
  return ({ headers, body }) => {
    const operation =
      String(headers['x-amz-target'] ?? 'unknown.Unknown')
        .split('.')
        .at(-1) ?? 'Unknown';
    let parsed: DynamoDbRequestBody;
    try {
      parsed = JSON.parse(body.toString('utf8')) as DynamoDbRequestBody;
    } catch {
      parsed = {};
    }
    const call = (action: string, table: string, index?: string): AwsCall => ({
      service: 'dynamodb',
      action,
      resource: index === undefined ? tableResource(table) : `${tableResource(table)}/index/${index}`,
    });
    if (parsed.TransactItems !== undefined) {
      return parsed.TransactItems.flatMap((item) =>
        Object.entries(item).flatMap(([kind, detail]) => {
          const action = TRANSACT_ITEM_ACTIONS[kind];
          return action === undefined || detail?.TableName === undefined ? [] : [call(action, detail.TableName)];
        }),
      );
    }
    if (parsed.RequestItems !== undefined) {
      return Object.keys(parsed.RequestItems).map((table) => call(`dynamodb:${operation}`, table));
    }
    return [call(`dynamodb:${operation}`, parsed.TableName ?? '(no table)', parsed.IndexName)];
  };
}

/**
 * Decodes API Gateway's @connections API: every method (POST to send, GET to describe, DELETE to close) is
 * `execute-api:ManageConnections` on `<api>/<stage>/<METHOD>/@connections/<id>`. `stageResource` is the
 * stage's resource, e.g. `arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketsApi}/dev`.
 */
export function connectionsCalls(stageResource: string): CallDecoder {
  return ({ method, path }) => {
    // The endpoint may carry the stage as a path prefix (https://<api>.execute-api.<region>.amazonaws.com/<stage>).
    const match = /\/@connections\/([^/?]+)/.exec(path);
    const target = match?.[1] === undefined ? path : `@connections/${decodeURIComponent(match[1])}`;
    return [
      {
        service: 'execute-api',
        action: 'execute-api:ManageConnections',
        resource: `${stageResource}/${method}/${target}`,
      },
    ];
  };
}

/** The IAM action each SQS operation needs: a batch operation is authorised as its single form. */
const SQS_ACTIONS: Record<string, string> = {
  SendMessageBatch: 'sqs:SendMessage',
  DeleteMessageBatch: 'sqs:DeleteMessage',
  ChangeMessageVisibilityBatch: 'sqs:ChangeMessageVisibility',
};

/**
 * Decodes SQS's JSON protocol (`X-Amz-Target: AmazonSQS.SendMessage`, the queue in the body's `QueueUrl`) and its
 * older query protocol (`Action=...&QueueUrl=...`). `queues` maps each local queue's name to the resource it stands
 * for, e.g. `{ 'ws-chat-local-fanout': '${FanOutQueue.Arn}' }`.
 */
export function sqsCalls(queues: Readonly<Record<string, string>>): CallDecoder {
  return ({ headers, body }) => {
    const text = body.toString('utf8');
    let operation =
      String(headers['x-amz-target'] ?? '')
        .split('.')
        .at(-1) ?? '';
    let queueUrl: unknown;
    if (operation !== '') {
      try {
        queueUrl = (JSON.parse(text) as { QueueUrl?: unknown }).QueueUrl;
      } catch {
        queueUrl = undefined;
      }
    } else {
      const form = new URLSearchParams(text);
      operation = form.get('Action') ?? 'Unknown';
      queueUrl = form.get('QueueUrl') ?? undefined;
    }
    const name = typeof queueUrl === 'string' ? (queueUrl.split('/').at(-1) ?? '') : '';
    return [
      {
        service: 'sqs',
        action: SQS_ACTIONS[operation] ?? `sqs:${operation}`,
        resource: queues[name] ?? `arn:\${AWS::Partition}:sqs:\${AWS::Region}:\${AWS::AccountId}:${name || '*'}`,
      },
    ];
  };
}
