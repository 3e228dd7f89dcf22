import { describe, expect, it } from '@jest/globals';
import { type AwsCall, connectionsCalls, dynamoDbCalls, sqsCalls } from '../../scripts/local-iam/aws-calls.ts';
import type { Resources, Statement } from './packaged-template.ts';
import { compareRole } from './role-grants.ts';

const TABLE = 'arn:aws:dynamodb:us-east-1:123456789012:table/chat-dev';
const STAGE = 'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketsApi}/dev';

/** A template with the chat table, the API, and one role made of these statements. */
function template(...statements: Statement[]): Resources {
  return {
    ChatTable: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'chat-dev' } },
    WebsocketsApi: { Type: 'AWS::ApiGatewayV2::Api' },
    Role: {
      Type: 'AWS::IAM::Role',
      Properties: { Policies: [{ PolicyName: 'p', PolicyDocument: { Version: '2012-10-17', Statement: statements } }] },
    },
  };
}

const onTable = (...actions: string[]): Statement => ({
  Effect: 'Allow',
  Action: actions,
  Resource: { 'Fn::GetAtt': ['ChatTable', 'Arn'] },
});
const onIndex: Statement = {
  Effect: 'Allow',
  Action: 'dynamodb:Query',
  Resource: { 'Fn::Sub': '${ChatTable.Arn}/index/byRoom' },
};
const onConnections: Statement = {
  Effect: 'Allow',
  Action: 'execute-api:ManageConnections',
  Resource: {
    'Fn::Sub':
      'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketsApi}/dev/POST/@connections/*',
  },
};
const logs: Statement = {
  Effect: 'Allow',
  Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  Resource: 'arn:aws:logs:*',
};

const call = (action: string, resource = '${ChatTable.Arn}'): AwsCall => ({
  service: action.split(':')[0] ?? '',
  action,
  resource,
});

function compare(resources: Resources, calls: AwsCall[]) {
  return compareRole(resources, {
    functionName: 'disconnect',
    roleName: 'Role',
    calls,
    recordedServices: ['dynamodb', 'execute-api'],
    unrecordedServices: ['logs'],
  });
}

describe("comparing a function's recorded calls with its role", () => {
  it('finds nothing when the role grants exactly the calls made', () => {
    const calls = [
      call('dynamodb:GetItem'),
      call('dynamodb:Query', '${ChatTable.Arn}/index/byRoom'),
      call('execute-api:ManageConnections', `${STAGE}/POST/@connections/abc`),
    ];

    expect(compare(template(logs, onTable('dynamodb:GetItem'), onIndex, onConnections), calls)).toEqual({
      missing: [],
      excess: [],
    });
  });

  it('names the function, the action, the resource and the role of a call the role does not allow', () => {
    const result = compare(template(onTable('dynamodb:DeleteItem')), [
      call('dynamodb:GetItem'),
      call('dynamodb:DeleteItem'),
    ]);

    expect(result.missing).toEqual([
      `disconnect performs dynamodb:GetItem on ${TABLE}, which its role Role does not allow`,
    ]);
  });

  it('tells an index from its table', () => {
    const result = compare(template(onTable('dynamodb:Query')), [
      call('dynamodb:Query'),
      call('dynamodb:Query', '${ChatTable.Arn}/index/byRoom'),
    ]);

    expect(result.missing).toEqual([
      `disconnect performs dynamodb:Query on ${TABLE}/index/byRoom, which its role Role does not allow`,
    ]);
  });

  it('tells the @connections methods apart: a role that may post may not close a connection', () => {
    const result = compare(template(onConnections), [
      call('execute-api:ManageConnections', `${STAGE}/POST/@connections/abc`),
      call('execute-api:ManageConnections', `${STAGE}/DELETE/@connections/abc`),
    ]);

    expect(result.missing).toEqual([
      'disconnect performs execute-api:ManageConnections on arn:aws:execute-api:us-east-1:123456789012:WebsocketsApi/dev/DELETE/@connections/{connectionId}, which its role Role does not allow',
    ]);
  });

  it('lets a Deny statement win over an Allow', () => {
    const deny: Statement = { Effect: 'Deny', Action: 'dynamodb:GetItem', Resource: '*' };

    expect(compare(template(onTable('dynamodb:GetItem'), deny), [call('dynamodb:GetItem')]).missing).toHaveLength(1);
  });

  it('reports a granted data action that no call made', () => {
    const result = compare(template(logs, onTable('dynamodb:GetItem', 'dynamodb:BatchWriteItem')), [
      call('dynamodb:GetItem'),
    ]);

    expect(result.excess).toEqual([
      `Role grants dynamodb:BatchWriteItem on ${TABLE}, which no scenario of disconnect performs: remove the grant, or add the scenario that needs it`,
    ]);
  });

  it('reports a wildcard action even when calls use it', () => {
    const result = compare(template(onTable('dynamodb:*')), [call('dynamodb:GetItem')]);

    expect(result).toEqual({
      missing: [],
      excess: [`Role grants the wildcard dynamodb:* on ${TABLE}; name each action disconnect performs`],
    });
  });

  it('reports a grant of a service whose calls nothing records', () => {
    const sqs: Statement = {
      Effect: 'Allow',
      Action: 'sqs:SendMessage',
      Resource: 'arn:aws:sqs:us-east-1:123456789012:q',
    };

    expect(compare(template(sqs), []).excess).toEqual([
      'Role grants sqs:SendMessage, but no scenario records sqs calls, so nothing shows disconnect needs it',
    ]);
  });

  it('refuses to judge a statement with a condition rather than guess', () => {
    const conditional: Statement = {
      ...onTable('dynamodb:GetItem'),
      Condition: { Bool: { 'aws:SecureTransport': 'true' } },
    };

    expect(compare(template(conditional), [call('dynamodb:GetItem')]).missing).toEqual([
      `Role has a statement this check cannot judge offline: ${JSON.stringify(conditional)}`,
      `disconnect performs dynamodb:GetItem on ${TABLE}, which its role Role does not allow`,
    ]);
  });
});

describe('decoding the calls on the wire', () => {
  const decode = dynamoDbCalls({ 'local-1': '${ChatTable.Arn}' });
  const request = (operation: string, body: unknown) => ({
    method: 'POST',
    path: '/',
    headers: { 'x-amz-target': `DynamoDB_20120810.${operation}` },
    body: Buffer.from(JSON.stringify(body)),
  });

  it('reads the action from X-Amz-Target and the index from IndexName', () => {
    expect(decode(request('Query', { TableName: 'local-1', IndexName: 'byRoom' }))).toEqual([
      { service: 'dynamodb', action: 'dynamodb:Query', resource: '${ChatTable.Arn}/index/byRoom' },
    ]);
  });

  it('authorises a transaction item by item, as DynamoDB does', () => {
    const body = {
      TransactItems: [
        { Put: { TableName: 'local-1' } },
        { Update: { TableName: 'local-1' } },
        { ConditionCheck: { TableName: 'other' } },
      ],
    };

    expect(decode(request('TransactWriteItems', body)).map((c) => `${c.action} ${c.resource}`)).toEqual([
      'dynamodb:PutItem ${ChatTable.Arn}',
      'dynamodb:UpdateItem ${ChatTable.Arn}',
      'dynamodb:ConditionCheckItem arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/other',
    ]);
  });

  it('names every table of a batch', () => {
    expect(decode(request('BatchGetItem', { RequestItems: { 'local-1': {} } })).map((c) => c.action)).toEqual([
      'dynamodb:BatchGetItem',
    ]);
  });

  it('reads the method and connection of an @connections call, with or without a stage in the path', () => {
    const connections = connectionsCalls(STAGE);
    const at = (method: string, path: string) =>
      connections({ method, path, headers: {}, body: Buffer.alloc(0) })[0]?.resource;

    expect([at('POST', '/@connections/abc%3D'), at('DELETE', '/dev/@connections/xyz')]).toEqual([
      `${STAGE}/POST/@connections/abc=`,
      `${STAGE}/DELETE/@connections/xyz`,
    ]);
  });

  it("reads SQS's action from X-Amz-Target and its queue from QueueUrl, a batch as its single form", () => {
    const decodeSqs = sqsCalls({ 'ws-chat-local-fanout': '${FanOutQueue.Arn}' });
    const sqsRequest = (operation: string) => ({
      method: 'POST',
      path: '/',
      headers: { 'x-amz-target': `AmazonSQS.${operation}` },
      body: Buffer.from(
        JSON.stringify({ QueueUrl: 'http://sqs.us-east-1.localhost:9324/000000000000/ws-chat-local-fanout' }),
      ),
    });

    expect(['SendMessage', 'DeleteMessageBatch', 'ReceiveMessage'].flatMap((op) => decodeSqs(sqsRequest(op)))).toEqual([
      { service: 'sqs', action: 'sqs:SendMessage', resource: '${FanOutQueue.Arn}' },
      { service: 'sqs', action: 'sqs:DeleteMessage', resource: '${FanOutQueue.Arn}' },
      { service: 'sqs', action: 'sqs:ReceiveMessage', resource: '${FanOutQueue.Arn}' },
    ]);
  });
});
