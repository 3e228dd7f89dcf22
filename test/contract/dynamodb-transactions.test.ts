import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { type DynamoDbTarget, startSelectedDynamoDb } from '../support/dynamodb.ts';

/**
 * TransactWriteItems as the chat uses it, on the selected DynamoDB: natively on DynamoDB Local
 * (`npm run test:dynamodb-local`), through the local stack's addition on dynalite otherwise. Both must answer alike.
 */
describe(`TransactWriteItems on ${process.env['CONTRACT_TARGET'] === 'dynamodb-local' ? 'DynamoDB Local' : 'dynalite'}`, () => {
  let target: DynamoDbTarget;
  let tableName: string;

  beforeAll(async () => {
    target = await startSelectedDynamoDb();
    tableName = await target.table();
  }, 90_000);

  afterAll(async () => {
    await target?.stop();
  });

  const read = async (pk: string): Promise<Record<string, unknown> | undefined> =>
    (
      await target.documentClient.send(
        new GetCommand({ TableName: tableName, Key: { pk, sk: pk }, ConsistentRead: true }),
      )
    ).Item;

  it('applies every item when every condition holds', async () => {
    await target.documentClient.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName,
              Item: { pk: 'a1', sk: 'a1', n: 1 },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Update: {
              TableName: tableName,
              Key: { pk: 'b1', sk: 'b1' },
              UpdateExpression: 'ADD members :one',
              ExpressionAttributeValues: { ':one': 1 },
            },
          },
        ],
      }),
    );
    expect(await read('a1')).toMatchObject({ n: 1 });
    expect(await read('b1')).toMatchObject({ members: 1 });
  });

  it('applies nothing when one condition fails, and names which one in its cancellation reasons', async () => {
    await target.documentClient.send(new PutCommand({ TableName: tableName, Item: { pk: 'c2', sk: 'c2', rev: 5 } }));
    const cancelled = target.documentClient.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: tableName,
              Key: { pk: 'd2', sk: 'd2' },
              UpdateExpression: 'ADD members :one',
              ExpressionAttributeValues: { ':one': 1 },
            },
          },
          {
            Delete: {
              TableName: tableName,
              Key: { pk: 'c2', sk: 'c2' },
              ConditionExpression: 'rev = :rev',
              ExpressionAttributeValues: { ':rev': 4 },
            },
          },
        ],
      }),
    );
    const error = await cancelled.then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(TransactionCanceledException);
    expect((error as TransactionCanceledException).CancellationReasons?.map(({ Code }) => Code)).toEqual([
      'None',
      'ConditionalCheckFailed',
    ]);
    expect(await read('d2')).toBeUndefined();
    expect(await read('c2')).toEqual({ pk: 'c2', sk: 'c2', rev: 5 });
  });

  it('answers a replay with the same client token as the first time without applying it again', async () => {
    const request = {
      ClientRequestToken: `token-${Date.now()}`,
      TransactItems: [
        {
          Update: {
            TableName: tableName,
            Key: { pk: 'e3', sk: 'e3' },
            UpdateExpression: 'ADD members :one',
            ExpressionAttributeValues: { ':one': 1 },
          },
        },
      ],
    };
    await target.documentClient.send(new TransactWriteCommand(request));
    await target.documentClient.send(new TransactWriteCommand(request));
    expect(await read('e3')).toMatchObject({ members: 1 });
  });

  it('refuses two operations on one item', async () => {
    const refused = target.documentClient.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: tableName, Item: { pk: 'f4', sk: 'f4', n: 1 } } },
          { Delete: { TableName: tableName, Key: { pk: 'f4', sk: 'f4' } } },
        ],
      }),
    );
    await expect(refused).rejects.toThrow(/multiple operations on one item/i);
    expect(await read('f4')).toBeUndefined();
  });
});
