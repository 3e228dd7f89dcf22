import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';

const dynamo = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));

const NOW = new Date(1_900_000_000_999);

function repository(pageSize?: number): DynamoDbConnectionRepository {
  return new DynamoDbConnectionRepository(client, { tableName: 'chat-connections', pageSize, now: () => NOW });
}

async function pagesOf(connections: DynamoDbConnectionRepository): Promise<string[][]> {
  const pages: string[][] = [];
  for await (const page of connections.list()) pages.push([...page]);
  return pages;
}

function queryInputs() {
  return dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input);
}

const firstKey = { pk: 'room#lobby', sk: 'conn#B' };
const secondKey = { pk: 'room#lobby', sk: 'conn#C' };

function threePages(): void {
  dynamo
    .on(QueryCommand)
    .resolvesOnce({ Items: [{ sk: 'conn#A' }, { sk: 'conn#B' }], LastEvaluatedKey: firstKey })
    .resolvesOnce({ Items: [{ sk: 'conn#C' }], LastEvaluatedKey: secondKey })
    .resolvesOnce({ Items: [{ sk: 'conn#D' }] });
}

beforeEach(() => {
  dynamo.reset();
});

afterAll(() => {
  dynamo.restore();
});

describe('DynamoDbConnectionRepository', () => {
  describe('save', () => {
    it('puts one lobby item keyed by connection id with its connection time in milliseconds', async () => {
      dynamo.on(PutCommand).resolves({});
      const connectedAt = new Date(1_900_000_000_123);

      await repository().save({ id: 'A', connectedAt, expiresAt: new Date(1_900_008_100_000) });

      expect(dynamo.commandCalls(PutCommand).map((call) => call.args[0].input)).toEqual([
        {
          TableName: 'chat-connections',
          Item: { pk: 'room#lobby', sk: 'conn#A', connectedAt: 1_900_000_000_123, expiresAt: 1_900_008_100 },
        },
      ]);
    });

    it.each([
      { expiresAtMs: 1_900_008_100_000, seconds: 1_900_008_100 },
      { expiresAtMs: 1_900_008_100_001, seconds: 1_900_008_101 },
      { expiresAtMs: 1_900_008_100_999, seconds: 1_900_008_101 },
    ])('stores an expiry at $expiresAtMs ms as $seconds epoch seconds', async ({ expiresAtMs, seconds }) => {
      dynamo.on(PutCommand).resolves({});

      await repository().save({ id: 'A', connectedAt: NOW, expiresAt: new Date(expiresAtMs) });

      const stored = dynamo.commandCalls(PutCommand).map((call) => call.args[0].input.Item?.['expiresAt']);
      expect(stored).toEqual([seconds]);
    });
  });

  describe('remove', () => {
    it('deletes the item of that connection', async () => {
      dynamo.on(DeleteCommand).resolves({});

      await repository().remove('A');

      expect(dynamo.commandCalls(DeleteCommand).map((call) => call.args[0].input)).toEqual([
        { TableName: 'chat-connections', Key: { pk: 'room#lobby', sk: 'conn#A' } },
      ]);
    });
  });

  describe('list', () => {
    it('queries the lobby partition and never scans', async () => {
      threePages();

      await pagesOf(repository());

      expect({ queries: queryInputs().length, scans: dynamo.commandCalls(ScanCommand).length }).toEqual({
        queries: 3,
        scans: 0,
      });
    });

    it('asks only for the sort key of lobby items', async () => {
      dynamo.on(QueryCommand).resolves({ Items: [] });

      await pagesOf(repository());

      expect(queryInputs()).toEqual([
        expect.objectContaining({
          TableName: 'chat-connections',
          KeyConditionExpression: 'pk = :pk',
          ProjectionExpression: 'sk',
          ExpressionAttributeValues: expect.objectContaining({ ':pk': 'room#lobby' }),
        }),
      ]);
    });

    it('filters out items whose expiry in epoch seconds is not after now', async () => {
      dynamo.on(QueryCommand).resolves({ Items: [] });

      await pagesOf(repository());

      const filters = queryInputs().map((input) => [input.FilterExpression, input.ExpressionAttributeValues?.[':now']]);
      expect(filters).toEqual([['expiresAt > :now', 1_900_000_000]]);
    });

    it('follows LastEvaluatedKey from page to page until there is none', async () => {
      threePages();

      await pagesOf(repository());

      expect(queryInputs().map((input) => input.ExclusiveStartKey)).toEqual([undefined, firstKey, secondKey]);
    });

    it('yields the connection ids of each page without their key prefix', async () => {
      threePages();

      expect(await pagesOf(repository())).toEqual([['A', 'B'], ['C'], ['D']]);
    });

    it('yields an empty page when a page holds no items', async () => {
      dynamo.on(QueryCommand).resolves({});

      expect(await pagesOf(repository())).toEqual([[]]);
    });

    it('sends the page size as the query Limit', async () => {
      dynamo.on(QueryCommand).resolves({ Items: [] });

      await pagesOf(repository(25));

      expect(queryInputs().map((input) => input.Limit)).toEqual([25]);
    });

    it('sends no Limit when no page size is set', async () => {
      dynamo.on(QueryCommand).resolves({ Items: [] });

      await pagesOf(repository());

      expect(queryInputs().map((input) => input.Limit)).toEqual([undefined]);
    });
  });
});
