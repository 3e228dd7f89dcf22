import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoDbClient } from '../../scripts/local-stack.ts';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';
import { presenceClockKey } from '../../src/adapters/dynamodb-keys.ts';
import type { Connection } from '../../src/domain/connection.ts';
import { changed, joined } from '../../src/domain/presence-records.ts';
import { type DynamoDbTarget, startSelectedDynamoDb } from '../support/dynamodb.ts';

/**
 * Room shards that grow with the room (src/adapters/dynamodb-room-growth.ts), on dynalite or DynamoDB Local: a small
 * room is one partition of the index, listed by one Query; the join that finds it at `growAt` members grows it, and
 * every listing finds every member, each once, whoever grew it and however the joins raced.
 */
describe('room shards that grow with the room', () => {
  let dynamo: DynamoDbTarget;
  const clients: DynamoDBDocumentClient[] = [];

  beforeAll(async () => {
    dynamo = await startSelectedDynamoDb();
  }, 90_000);

  afterAll(async () => {
    for (const client of clients) client.destroy();
    await dynamo?.stop();
  });

  /** A repository of its own (a container of its own: nothing known of any room), counting its Queries. */
  const container = (tableName: string, growAt = 3, shards = 4) => {
    const client = DynamoDBDocumentClient.from(localDynamoDbClient(dynamo.endpoint));
    clients.push(client);
    let queries = 0;
    client.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'QueryCommand') queries += 1;
        return next(args);
      },
      { step: 'initialize' },
    );
    return {
      repository: new DynamoDbConnectionRepository(client, { tableName, shards, growAt }),
      queries: () => queries,
    };
  };

  const member = (id: string, room = 'hall'): Connection => ({
    id,
    room,
    name: id,
    connectedAt: new Date(),
    expiresAt: new Date(Date.now() + 3_600_000),
    revision: 0,
    announced: true,
  });

  const join = (repository: DynamoDbConnectionRepository, id: string, room = 'hall') =>
    repository.save(member(id, room), joined(member(id, room), new Date()));

  const listed = async (repository: DynamoDbConnectionRepository, room = 'hall') => {
    const ids: string[] = [];
    for await (const page of repository.list(room)) ids.push(...page);
    return ids.sort();
  };

  const roster = async (repository: DynamoDbConnectionRepository, room = 'hall') => {
    const ids: string[] = [];
    let after: string | undefined;
    do {
      const page = await repository.members(room, 2, after);
      ids.push(...page.members.map(({ id }) => id));
      after = page.next;
    } while (after !== undefined);
    return ids.sort();
  };

  const byShards = async (repository: DynamoDbConnectionRepository, room = 'hall') => {
    const shards: string[][] = [];
    for (let shard = 0; shard < repository.shards; shard += 1) {
      const ids: string[] = [];
      let after: string | undefined;
      do {
        const page = await repository.listShard(room, shard, 2, after);
        ids.push(...page.ids);
        after = page.next;
      } while (after !== undefined);
      shards.push(ids);
    }
    return shards;
  };

  const grownShards = async (tableName: string, room = 'hall') => {
    const { Item } = await dynamo.documentClient.send(
      new GetCommand({ TableName: tableName, Key: presenceClockKey(room), ConsistentRead: true }),
    );
    return Item?.['grownShards'];
  };

  it('keeps a room below growAt in shard 0, listed by one Query, and spreads the members that join once it grew', async () => {
    const tableName = await dynamo.table();
    const { repository, queries } = container(tableName, 3);
    for (const id of ['a', 'b', 'c']) await join(repository, id);
    const before = queries();
    const small = await listed(repository);
    const smallQueries = queries() - before;
    const smallShards = await byShards(repository);
    const wasGrown = await grownShards(tableName);
    const ids = Array.from({ length: 12 }, (_, i) => `m${String(i).padStart(2, '0')}`);
    for (const id of ids) await join(repository, id);
    const all = ['a', 'b', 'c', ...ids].sort();
    const shards = await byShards(repository);

    expect({
      small,
      smallQueries,
      smallShards: smallShards.map((shard) => shard.length),
      wasGrown,
      grown: await grownShards(tableName),
      listed: await listed(repository),
      roster: await roster(repository),
      byShards: shards.flat().sort(),
      spread: shards.slice(1).some((shard) => shard.length > 0),
    }).toEqual({
      small: ['a', 'b', 'c'],
      smallQueries: 1,
      smallShards: [3, 0, 0, 0],
      wasGrown: undefined,
      grown: 4,
      listed: all,
      roster: all,
      byShards: all,
      spread: true,
    });
  });

  it('lists every member once when the joins race across growAt', async () => {
    const tableName = await dynamo.table();
    const containers = [container(tableName, 4), container(tableName, 4), container(tableName, 4)];
    const ids = Array.from({ length: 18 }, (_, i) => `r${String(i).padStart(2, '0')}`);

    await Promise.all(
      containers.flatMap(({ repository }, c) =>
        ids.filter((_, i) => i % containers.length === c).map((id) => join(repository, id)),
      ),
    );

    const { repository } = container(tableName, 4);
    expect({
      listed: await listed(repository),
      roster: await roster(repository),
      grown: await grownShards(tableName),
    }).toEqual({
      listed: ids,
      roster: ids,
      grown: 4,
    });
  });

  it('places a join by the room as stored when its container did not see the room grow, and a move into it too', async () => {
    const tableName = await dynamo.table();
    const grower = container(tableName, 2);
    for (const id of ['a', 'b', 'c', 'd']) await join(grower.repository, id);
    const late = container(tableName, 2);
    await join(late.repository, 'e');
    await join(late.repository, 'f', 'porch');
    const moved = await late.repository.update('f', { room: 'hall' }, (change) => changed(change, new Date()));

    const shards = await byShards(late.repository);
    expect({
      moved: moved?.after.room,
      listed: await listed(late.repository),
      everyMemberOnce: shards.flat().sort(),
      porch: await listed(late.repository, 'porch'),
    }).toEqual({
      moved: 'hall',
      listed: ['a', 'b', 'c', 'd', 'e', 'f'],
      everyMemberOnce: ['a', 'b', 'c', 'd', 'e', 'f'],
      porch: [],
    });
  });

  it('never lists the marker as a member, nor counts it in a shard', async () => {
    const tableName = await dynamo.table();
    const { repository } = container(tableName, 0, 2);
    await join(repository, 'solo');
    const shardZero = await dynamo.documentClient.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: 'byRoom',
        KeyConditionExpression: 'gsi1pk = :room',
        ExpressionAttributeValues: { ':room': 'room#hall#0' },
      }),
    );

    expect({
      indexed: (shardZero.Items ?? []).map(({ pk }) => pk).sort(),
      listed: await listed(repository),
      roster: await roster(repository),
      byShards: (await byShards(repository)).flat(),
    }).toEqual({
      indexed: expect.arrayContaining(['room#hall']),
      listed: ['solo'],
      roster: ['solo'],
      byShards: ['solo'],
    });
  });
});
