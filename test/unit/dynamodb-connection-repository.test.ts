import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';
import type { Connection } from '../../src/domain/connection.ts';
import type { PresenceRecord } from '../../src/domain/presence.ts';
import { ConcurrentChangeError } from '../../src/domain/errors.ts';

const dynamo = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));

const NOW = new Date(1_900_000_000_999);
const NOW_SECONDS = 1_900_000_000;
/** A removal marked before this can no longer be running: its $disconnect has timed out. */

function repository(pageSize?: number): DynamoDbConnectionRepository {
  return new DynamoDbConnectionRepository(client, { tableName: 'chat-table', pageSize, now: () => NOW });
}

/** The stored item of connection A in the kitchen, as the adapter writes it. */
const itemOfA = {
  pk: 'conn#A',
  sk: 'connection',
  gsi1pk: 'room#kitchen#0',
  gsi1sk: '1900008100#A',
  room: 'kitchen',
  name: 'Ann',
  connectedAt: 1_900_000_000_123,
  expiresAt: 1_900_008_100,
  rev: 0,
  announced: false,
};

const connectionA: Connection = {
  id: 'A',
  room: 'kitchen',
  name: 'Ann',
  connectedAt: new Date(1_900_000_000_123),
  expiresAt: new Date(1_900_008_100_000),
  revision: 0,
  announced: false,
};

async function pagesOf(connections: DynamoDbConnectionRepository, room = 'kitchen'): Promise<string[][]> {
  const pages: string[][] = [];
  for await (const page of connections.list(room)) pages.push([...page]);
  return pages;
}

function queryInputs() {
  return dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input);
}

function updateInputs() {
  return dynamo.commandCalls(UpdateCommand).map((call) => call.args[0].input);
}

const firstKey = { pk: 'conn#B', sk: 'connection', gsi1pk: 'room#kitchen#0' };
const secondKey = { pk: 'conn#C', sk: 'connection', gsi1pk: 'room#kitchen#0' };

/** A room index item as the keys-only index returns it. */
function indexed(id: string): Record<string, string> {
  return { pk: `conn#${id}`, gsi1sk: `9999999999#${id}` };
}

function threePages(): void {
  dynamo
    .on(QueryCommand)
    .resolvesOnce({
      Items: [indexed('A'), indexed('B')],
      LastEvaluatedKey: firstKey,
    })
    .resolvesOnce({ Items: [indexed('C')], LastEvaluatedKey: secondKey })
    .resolvesOnce({ Items: [indexed('D')] });
}

function cancelled(...codes: string[]): TransactionCanceledException {
  return new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

function conditionFailed(): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
}

beforeEach(() => {
  dynamo.reset();
});

afterAll(() => {
  dynamo.restore();
});

describe('DynamoDbConnectionRepository', () => {
  describe('save', () => {
    it('puts one item keyed by connection id, with its room as the index key, its name, and its connection time in milliseconds', async () => {
      dynamo.on(PutCommand).resolves({});

      await repository().save(connectionA);

      // On condition that the id is not stored, with a change id that tells a replay of this save from another.
      expect(dynamo.commandCalls(PutCommand).map((call) => call.args[0].input)).toEqual([
        {
          TableName: 'chat-table',
          Item: { ...itemOfA, changeId: expect.any(String) },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      ]);
    });

    it.each([
      { expiresAtMs: 1_900_008_100_000, seconds: 1_900_008_100 },
      { expiresAtMs: 1_900_008_100_001, seconds: 1_900_008_101 },
      { expiresAtMs: 1_900_008_100_999, seconds: 1_900_008_101 },
    ])('stores an expiry at $expiresAtMs ms as $seconds epoch seconds', async ({ expiresAtMs, seconds }) => {
      dynamo.on(PutCommand).resolves({});

      await repository().save({ ...connectionA, expiresAt: new Date(expiresAtMs) });

      const stored = dynamo.commandCalls(PutCommand).map((call) => call.args[0].input.Item?.['expiresAt']);
      expect(stored).toEqual([seconds]);
    });
  });

  describe('get', () => {
    it("reads the connection's item with a strongly consistent read", async () => {
      dynamo.on(GetCommand).resolves({});

      await repository().get('A');

      expect(dynamo.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
        { TableName: 'chat-table', Key: { pk: 'conn#A', sk: 'connection' }, ConsistentRead: true },
      ]);
    });

    it('returns the stored connection', async () => {
      dynamo.on(GetCommand).resolves({ Item: itemOfA });

      expect(await repository().get('A')).toEqual(connectionA);
    });

    it('returns undefined when no item is stored', async () => {
      dynamo.on(GetCommand).resolves({});

      expect(await repository().get('A')).toBeUndefined();
    });

    it('returns undefined for an item whose expiry is not after now, which TTL has not deleted yet', async () => {
      dynamo.on(GetCommand).resolves({ Item: { ...itemOfA, expiresAt: NOW_SECONDS } });

      expect(await repository().get('A')).toBeUndefined();
    });

    it('returns an item that expires in the next second', async () => {
      dynamo.on(GetCommand).resolves({ Item: { ...itemOfA, expiresAt: NOW_SECONDS + 1 } });

      expect(await repository().get('A')).toMatchObject({ id: 'A' });
    });

    it('returns undefined for an item without a name', async () => {
      dynamo.on(GetCommand).resolves({ Item: { ...itemOfA, name: undefined } });

      expect(await repository().get('A')).toBeUndefined();
    });
  });

  describe('update', () => {
    it('reads the connection, then moves it with one update conditioned on the revision it read', async () => {
      dynamo.on(GetCommand).resolves({ Item: { ...itemOfA, rev: 4 } });
      dynamo.on(UpdateCommand).resolves({});

      await repository().update('A', { room: 'garden' });

      expect(updateInputs()).toEqual([
        {
          TableName: 'chat-table',
          Key: { pk: 'conn#A', sk: 'connection' },
          UpdateExpression:
            'SET room = :room, gsi1pk = :gsi1pk, #name = :name, announced = :announced, rev = :next, changeId = :changeId',
          ConditionExpression:
            'attribute_exists(pk) AND attribute_not_exists(retired) AND attribute_not_exists(removedBy) AND (attribute_not_exists(rev) OR rev = :rev)',
          ExpressionAttributeNames: { '#name': 'name' },
          ExpressionAttributeValues: {
            ':room': 'garden',
            ':gsi1pk': 'room#garden#0',
            ':name': 'Ann',
            ':announced': false,
            ':next': 5,
            ':changeId': expect.any(String),
            ':rev': 4,
          },
        },
      ]);
    });

    it('returns the connection before and after the change, one revision up', async () => {
      dynamo.on(GetCommand).resolves({ Item: itemOfA });
      dynamo.on(UpdateCommand).resolves({});

      expect(await repository().update('A', { name: 'Annie' })).toEqual({
        before: connectionA,
        after: { ...connectionA, name: 'Annie', revision: 1 },
      });
    });

    it('writes nothing for a change that changes nothing', async () => {
      dynamo.on(GetCommand).resolves({ Item: itemOfA });

      expect(await repository().update('A', { room: 'kitchen' })).toEqual({ before: connectionA, after: connectionA });
      expect(updateInputs()).toEqual([]);
    });

    it('returns undefined and writes nothing for a connection that is not stored', async () => {
      dynamo.on(GetCommand).resolves({});

      expect(await repository().update('A', { room: 'garden' })).toBeUndefined();
      expect(updateInputs()).toEqual([]);
    });

    it('reports the change it asked for when its condition fails because a replay of it already applied', async () => {
      let written: Record<string, unknown> = itemOfA;
      dynamo.on(GetCommand).callsFake(() => ({ Item: written }));
      dynamo.on(UpdateCommand).callsFake((input: { ExpressionAttributeValues: Record<string, unknown> }) => {
        // The first attempt applied, but its answer was lost: the SDK's replay finds its condition false.
        const values = input.ExpressionAttributeValues;
        written = {
          ...itemOfA,
          room: 'garden',
          gsi1pk: 'room#garden#0',
          rev: values[':next'],
          changeId: values[':changeId'],
        };
        throw conditionFailed();
      });

      expect(await repository().update('A', { room: 'garden' })).toEqual({
        before: connectionA,
        after: { ...connectionA, room: 'garden', revision: 1 },
      });
      expect(updateInputs()).toHaveLength(1);
    });

    it('applies an identical change that lost the race on top of the winner, which changes nothing', async () => {
      dynamo
        .on(GetCommand)
        .resolvesOnce({ Item: itemOfA })
        .resolves({
          Item: { ...itemOfA, room: 'garden', gsi1pk: 'room#garden#0', rev: 1, changeId: 'another-request' },
        });
      dynamo.on(UpdateCommand).rejects(conditionFailed());

      const change = await repository().update('A', { room: 'garden' });

      const garden = { ...connectionA, room: 'garden', revision: 1 };
      expect(change).toEqual({ before: garden, after: garden });
    });

    it('starts again from a fresh read when another change came between its read and its write', async () => {
      dynamo
        .on(GetCommand)
        .resolvesOnce({ Item: itemOfA })
        .resolvesOnce({ Item: { ...itemOfA, name: 'Ann B', rev: 1, changeId: 'another-request' } })
        .resolves({ Item: { ...itemOfA, name: 'Ann B', rev: 1, changeId: 'another-request' } });
      dynamo.on(UpdateCommand).rejectsOnce(conditionFailed()).resolves({});

      const change = await repository().update('A', { room: 'garden' });

      expect(change).toEqual({
        before: { ...connectionA, name: 'Ann B', revision: 1 },
        after: { ...connectionA, name: 'Ann B', room: 'garden', revision: 2 },
      });
    });

    it('says the connection kept changing, rather than that it is unknown, when every attempt loses', async () => {
      let rev = 0;
      dynamo.on(GetCommand).callsFake(() => ({ Item: { ...itemOfA, rev, changeId: `other-${rev}` } }));
      dynamo.on(UpdateCommand).callsFake(() => {
        rev += 1;
        throw conditionFailed();
      });

      await expect(repository().update('A', { name: 'Annie' })).rejects.toBeInstanceOf(ConcurrentChangeError);
    });

    it('rethrows any other failure', async () => {
      dynamo.on(GetCommand).resolves({ Item: itemOfA });
      dynamo.on(UpdateCommand).rejects(new Error('throttled for good'));

      await expect(repository().update('A', { room: 'garden' })).rejects.toThrow('throttled for good');
    });
  });

  describe('remove', () => {
    const leaveOf = (connection: Connection): PresenceRecord[] => [
      {
        room: connection.room,
        change: {
          event: 'leave',
          connectionId: connection.id,
          name: connection.name,
          rev: connection.revision + 1,
          at: NOW.toISOString(),
        },
        memberDelta: -1,
      },
    ];

    it('reads the connection, then deletes it, keeps its leave and counts it out in one transaction at the revision read', async () => {
      dynamo.on(GetCommand).resolves({ Item: { ...itemOfA, rev: 3 } });
      dynamo.on(TransactWriteCommand).resolves({});

      const removed = await repository().remove('A', leaveOf);

      const [transaction] = dynamo.commandCalls(TransactWriteCommand).map((call) => call.args[0].input.TransactItems);
      expect({
        removed,
        consistent: dynamo.commandCalls(GetCommand).map((call) => call.args[0].input.ConsistentRead),
        writes: transaction?.map((item) => Object.keys(item)[0]),
        deleted: transaction?.[0]?.Delete?.Key,
        condition: [transaction?.[0]?.Delete?.ConditionExpression, transaction?.[0]?.Delete?.ExpressionAttributeValues],
        count: transaction?.[2]?.Update?.ExpressionAttributeValues?.[':delta'],
      }).toEqual({
        removed: { ...connectionA, revision: 3 },
        consistent: [true],
        writes: ['Delete', 'Put', 'Update'],
        deleted: { pk: 'conn#A', sk: 'connection' },
        condition: ['attribute_exists(pk) AND (attribute_not_exists(rev) OR rev = :rev)', { ':rev': 3 }],
        count: -1,
      });
    });

    it('deletes a retired connection alone: its leave was kept when it was retired', async () => {
      dynamo.on(GetCommand).resolves({ Item: { ...itemOfA, retired: true } });
      dynamo.on(DeleteCommand).resolves({});

      expect(await repository().remove('A', leaveOf)).toEqual(connectionA);
      expect({
        transactions: dynamo.commandCalls(TransactWriteCommand).length,
        deletes: dynamo.commandCalls(DeleteCommand).length,
      }).toEqual({ transactions: 0, deletes: 1 });
    });

    it('starts again from a fresh read when a change came between its read and its delete', async () => {
      dynamo
        .on(GetCommand)
        .resolvesOnce({ Item: itemOfA })
        .resolves({ Item: { ...itemOfA, room: 'garden', rev: 1 } });
      dynamo.on(TransactWriteCommand).rejectsOnce(cancelled('ConditionalCheckFailed')).resolves({});

      const removed = await repository().remove('A', leaveOf);

      expect({
        removed,
        leaveFrom: dynamo
          .commandCalls(TransactWriteCommand)
          .map((call) => call.args[0].input.TransactItems?.[1]?.Put?.Item?.['pk']),
      }).toEqual({
        removed: { ...connectionA, room: 'garden', revision: 1 },
        leaveFrom: ['presence#kitchen#0', 'presence#garden#0'],
      });
    });

    it('returns undefined to a removal that lost the race to another, so the room hears one leave', async () => {
      dynamo.on(GetCommand).resolvesOnce({ Item: itemOfA }).resolves({});
      dynamo.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed'));

      expect(await repository().remove('A', leaveOf)).toBeUndefined();
      expect(dynamo.commandCalls(TransactWriteCommand)).toHaveLength(1);
    });

    it('returns undefined and writes nothing when nothing was stored', async () => {
      dynamo.on(GetCommand).resolves({});

      expect(await repository().remove('A', leaveOf)).toBeUndefined();
      expect(dynamo.commandCalls(TransactWriteCommand).length + dynamo.commandCalls(DeleteCommand).length).toBe(0);
    });
  });

  describe('list', () => {
    it("queries the room's partition of the byRoom index and never scans", async () => {
      threePages();

      await pagesOf(repository());

      expect({
        queries: queryInputs().map((input) => [
          input.IndexName,
          input.KeyConditionExpression,
          input.ExpressionAttributeValues?.[':room'],
        ]),
        scans: dynamo.commandCalls(ScanCommand).length,
      }).toEqual({
        queries: [
          ['byRoom', 'gsi1pk = :room AND gsi1sk >= :from', 'room#kitchen#0'],
          ['byRoom', 'gsi1pk = :room AND gsi1sk >= :from', 'room#kitchen#0'],
          ['byRoom', 'gsi1pk = :room AND gsi1sk >= :from', 'room#kitchen#0'],
        ],
        scans: 0,
      });
    });

    it('keeps one expiry cut-off across every page, so a start key that expired meanwhile still matches it', async () => {
      threePages();
      let seconds = 1_900_000_000;
      // The clock moves a second per read: a page's start key may belong to a row that expired in between.
      const ticking = new DynamoDbConnectionRepository(client, {
        tableName: 'chat-table',
        now: () => new Date((seconds += 1) * 1000),
      });

      await pagesOf(ticking);

      expect(new Set(queryInputs().map((input) => input.ExpressionAttributeValues?.[':from']))).toEqual(
        new Set(['1900000002']),
      );
    });

    it("reads only the keys of each connection in the index (a grown room's marker names its shards by its key)", async () => {
      dynamo.on(QueryCommand).resolves({ Items: [] });

      await pagesOf(repository());

      expect(queryInputs()).toEqual([
        expect.objectContaining({ TableName: 'chat-table', ProjectionExpression: 'pk, gsi1sk' }),
      ]);
    });

    it('skips items whose expiry is not after now with the key condition, so they are never read', async () => {
      dynamo.on(QueryCommand).resolves({ Items: [] });

      await pagesOf(repository());

      const conditions = queryInputs().map((input) => [
        input.FilterExpression,
        input.ExpressionAttributeValues?.[':from'],
      ]);
      expect(conditions).toEqual([[undefined, String(NOW_SECONDS + 1)]]);
    });

    it('sorts an expiry that has fewer digits before one that has more, by zero-padding it', async () => {
      dynamo.on(PutCommand).resolves({});

      await repository().save({ ...connectionA, expiresAt: new Date(999_000) });

      expect(dynamo.commandCalls(PutCommand)[0]?.args[0].input.Item?.['gsi1sk']).toBe('0000000999#A');
    });

    it('follows LastEvaluatedKey from page to page until there is none', async () => {
      const answers = [
        { Items: [{ pk: 'conn#A' }], LastEvaluatedKey: firstKey },
        { Items: [{ pk: 'conn#C' }], LastEvaluatedKey: secondKey },
        { Items: [{ pk: 'conn#D' }] },
      ];
      // Read at call time: the paginator reuses one input object from page to page.
      const startKeys: unknown[] = [];
      dynamo.on(QueryCommand).callsFake((input: { ExclusiveStartKey?: unknown }) => {
        startKeys.push(input.ExclusiveStartKey);
        return answers.shift();
      });

      await pagesOf(repository());

      expect(startKeys).toEqual([undefined, firstKey, secondKey]);
    });

    it('yields the ids of each page without the key prefix', async () => {
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

  describe('members', () => {
    it('lists the room on the index, then reads the names of those ids in one batch', async () => {
      threePages();
      dynamo.on(BatchGetCommand).resolves({
        Responses: {
          'chat-table': [
            { pk: 'conn#A', name: 'Ann' },
            { pk: 'conn#B', name: 'Bob' },
            { pk: 'conn#C', name: 'Cat' },
            { pk: 'conn#D', name: 'Dan' },
          ],
        },
      });

      const members = await repository().members('kitchen', 10);

      expect(members).toEqual({
        members: [
          { id: 'A', name: 'Ann', revision: 0 },
          { id: 'B', name: 'Bob', revision: 0 },
          { id: 'C', name: 'Cat', revision: 0 },
          { id: 'D', name: 'Dan', revision: 0 },
        ],
      });
      expect(
        dynamo.commandCalls(BatchGetCommand).map((call) => call.args[0].input.RequestItems?.['chat-table']?.Keys),
      ).toEqual([['A', 'B', 'C', 'D'].map((id) => ({ pk: `conn#${id}`, sk: 'connection' }))]);
    });

    it('stops listing once it has as many ids as the limit', async () => {
      threePages();
      dynamo.on(BatchGetCommand).resolves({ Responses: { 'chat-table': [{ pk: 'conn#A', name: 'Ann' }] } });

      const members = await repository().members('kitchen', 1);

      expect({ queries: queryInputs().length, members }).toEqual({
        queries: 1,
        members: { members: [{ id: 'A', name: 'Ann', revision: 0 }], next: expect.any(String) },
      });
    });

    it('asks again for the keys a batch left unprocessed', async () => {
      dynamo.on(QueryCommand).resolves({ Items: [indexed('A'), indexed('B')] });
      dynamo
        .on(BatchGetCommand)
        .resolvesOnce({
          Responses: { 'chat-table': [{ pk: 'conn#A', name: 'Ann' }] },
          UnprocessedKeys: { 'chat-table': { Keys: [{ pk: 'conn#B', sk: 'connection' }] } },
        })
        .resolvesOnce({ Responses: { 'chat-table': [{ pk: 'conn#B', name: 'Bob' }] } });

      expect(await repository().members('kitchen', 10)).toEqual({
        members: [
          { id: 'A', name: 'Ann', revision: 0 },
          { id: 'B', name: 'Bob', revision: 0 },
        ],
      });
    });

    it('leaves out a member whose item was gone by the time its name was read', async () => {
      dynamo.on(QueryCommand).resolves({ Items: [indexed('A'), indexed('B')] });
      dynamo.on(BatchGetCommand).resolves({ Responses: { 'chat-table': [{ pk: 'conn#B', name: 'Bob' }] } });

      expect(await repository().members('kitchen', 10)).toEqual({ members: [{ id: 'B', name: 'Bob', revision: 0 }] });
    });
  });
});
