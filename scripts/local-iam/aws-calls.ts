/**
 * What a request to an AWS service endpoint asks IAM for: the action and resource of each call in it, read from the
 * wire as the service authorises it. The local stack's checking proxies and the stack tests' recorders decode
 * requests with these.
 */
import type { IncomingMessage } from 'node:http';

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
