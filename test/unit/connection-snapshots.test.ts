import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';
import { ConnectionSnapshots } from '../../src/adapters/dynamodb-connection-snapshots.ts';
import { DynamoDbRateLimiter } from '../../src/adapters/dynamodb-rate-limiter.ts';

const dynamo = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const NOW = new Date(1_900_000_000_999);

const itemOfA = {
  pk: 'conn#A',
  sk: 'connection',
  gsi1pk: 'room#kitchen#0',
  gsi1sk: '1900008100#A',
  room: 'kitchen',
  name: 'Ann',
  connectedAt: 1_900_000_000_123,
  expiresAt: 1_900_008_100,
  rev: 4,
  announced: true,
  rlWindow: 190_000_000,
  rlCount: 1,
};

describe('ConnectionSnapshots', () => {
  it('serves a kept item to one read within the moment, then none', () => {
    let now = 0;
    const snapshots = new ConnectionSnapshots({ maxAgeMs: 1000, now: () => now });
    snapshots.keep('A', itemOfA);
    snapshots.keep('B', { pk: 'conn#B' });
    now = 1000;
    expect([snapshots.take('A'), snapshots.take('A')]).toEqual([itemOfA, undefined]);
    now = 1001;
    expect(snapshots.take('B')).toBeUndefined();
  });

  it('forgets an item a write changed', () => {
    const snapshots = new ConnectionSnapshots();
    snapshots.keep('A', itemOfA);
    snapshots.forget('A');
    expect(snapshots.take('A')).toBeUndefined();
  });

  it('keeps at most 1,000 items, dropping the oldest', () => {
    const snapshots = new ConnectionSnapshots();
    for (let i = 0; i <= 1000; i += 1) snapshots.keep(`c${i}`, { pk: `conn#c${i}` });
    expect([snapshots.take('c0'), snapshots.take('c1')]).toEqual([undefined, { pk: 'conn#c1' }]);
  });
});

describe('the rate count and the sender read in one request', () => {
  beforeEach(() => {
    dynamo.reset();
  });
  afterAll(() => dynamo.restore());

  const wired = () => {
    const snapshots = new ConnectionSnapshots();
    return {
      limiter: new DynamoDbRateLimiter(client, {
        tableName: 'chat-table',
        limit: { frames: 30, windowSeconds: 10 },
        snapshots,
        now: () => NOW,
      }),
      connections: new DynamoDbConnectionRepository(client, { tableName: 'chat-table', snapshots, now: () => NOW }),
    };
  };

  it("reads the connection from the count's answer: no GetItem", async () => {
    dynamo.on(UpdateCommand).resolves({ Attributes: itemOfA });
    const { limiter, connections } = wired();

    expect(await limiter.admit('A')).toBe('allowed');
    expect(await connections.get('A')).toMatchObject({ id: 'A', room: 'kitchen', name: 'Ann', revision: 4 });
    expect({
      returnValues: dynamo.commandCalls(UpdateCommand).map((call) => call.args[0].input.ReturnValues),
      gets: dynamo.commandCalls(GetCommand).length,
    }).toEqual({ returnValues: ['ALL_NEW'], gets: 0 });
  });

  it('reads strongly consistently the second time, and for a connection it did not count', async () => {
    dynamo.on(UpdateCommand).resolves({ Attributes: itemOfA });
    dynamo.on(GetCommand).resolves({ Item: { ...itemOfA, rev: 5 } });
    const { limiter, connections } = wired();

    await limiter.admit('A');
    await connections.get('A');
    expect(await connections.get('A')).toMatchObject({ revision: 5 });
    await connections.get('B');
    expect(dynamo.commandCalls(GetCommand).map((call) => call.args[0].input.ConsistentRead)).toEqual([true, true]);
  });

  it('does not take a removed connection from the count for live: the stored item says so', async () => {
    dynamo.on(UpdateCommand).resolves({ Attributes: { ...itemOfA, retired: true } });
    const { limiter, connections } = wired();

    await limiter.admit('A');
    expect(await connections.get('A')).toBeUndefined();
  });
});
