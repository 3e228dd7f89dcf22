import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Connection } from '../../src/domain/connection.ts';
import { InvalidCursorError } from '../../src/domain/errors.ts';
import { localDynamoDbClient } from '../../scripts/local-stack.ts';
import { DynamoDbConnectionQuota } from '../../src/adapters/dynamodb-connection-quota.ts';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';
import { DynamoDbMessageHistory } from '../../src/adapters/dynamodb-message-history.ts';
import { InMemoryConnectionQuota } from '../../src/adapters/in-memory-connection-quota.ts';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import { DynamoDbRateLimiter } from '../../src/adapters/dynamodb-rate-limiter.ts';
import { InMemoryRateLimiter } from '../../src/adapters/in-memory-rate-limiter.ts';
import { rateLimiterContract } from './rate-limiter.contract.ts';
import { ownerBudgetContract } from './owner-budget.contract.ts';
import { DynamoDbOwnerBudget } from '../../src/adapters/dynamodb-owner-budget.ts';
import { InMemoryOwnerBudget } from '../../src/adapters/in-memory-owner-budget.ts';
import { type DynamoDbTarget, expireDue, startSelectedDynamoDb } from '../support/dynamodb.ts';
import { connectionQuotaContract } from './connection-quota.contract.ts';
import { connectionRepositoryContract } from './connection-repository.contract.ts';
import { messageHistoryContract } from './message-history.contract.ts';
import { presenceLogContract } from './presence-log.contract.ts';
import { shardProgressContract } from './shard-progress.contract.ts';
import { DynamoDbShardProgress } from '../../src/adapters/dynamodb-shard-progress.ts';
import { InMemoryShardProgress } from '../../src/adapters/in-memory-shard-progress.ts';
import { DynamoDbPresenceLog } from '../../src/adapters/dynamodb-presence-log.ts';
import { InMemoryPresenceLog } from '../../src/adapters/in-memory-presence-log.ts';

const onlyDynamoDbLocal = process.env['CONTRACT_TARGET'] === 'dynamodb-local';

/** A document client of its own on the target, and how many requests it has sent so far. */
function countingClient(target: DynamoDbTarget): { client: DynamoDBDocumentClient; requests: () => number } {
  const client = DynamoDBDocumentClient.from(localDynamoDbClient(target.endpoint));
  let requests = 0;
  client.middlewareStack.add((next) => (args) => {
    requests += 1;
    return next(args);
  });
  return { client, requests: () => requests };
}

/** Whether a transaction of the check alone (with a write of its own, as a save makes) applies; it changes nothing. */
async function allowedByCheck(
  client: DynamoDBDocumentClient,
  check: ReturnType<DynamoDbOwnerBudget['check']>,
): Promise<boolean> {
  const { TableName } = check.ConditionCheck;
  try {
    await client.send(
      new TransactWriteCommand({
        TransactItems: [check, { Delete: { TableName, Key: { pk: 'budget-check-probe', sk: 'probe' } } }],
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof TransactionCanceledException) return false;
    throw error;
  }
}

function liveConnection(id: string): Connection {
  return {
    id,
    room: 'lobby',
    name: id,
    connectedAt: new Date(),
    expiresAt: new Date(Date.now() + 3_600_000),
    revision: 0,
    announced: false,
  };
}

if (!onlyDynamoDbLocal) {
  connectionRepositoryContract(
    'InMemoryConnectionRepository',
    async (options) => new InMemoryConnectionRepository(options),
  );
  messageHistoryContract('InMemoryMessageHistory', async () => ({
    history: new InMemoryMessageHistory(),
    expireDue: async () => undefined,
  }));
  presenceLogContract('InMemoryPresenceLog', async () => new InMemoryPresenceLog());
  shardProgressContract('InMemoryShardProgress', async () => new InMemoryShardProgress());
  rateLimiterContract('InMemoryRateLimiter', async (limit, now) => ({
    limiter: new InMemoryRateLimiter(limit, now),
    register: async () => undefined,
  }));
  ownerBudgetContract('InMemoryOwnerBudget', async (limit, now) => {
    const budget = new InMemoryOwnerBudget(limit, now);
    return { budget, allows: async (owner, weight) => budget.allows({ owner, weight }) };
  });
  connectionQuotaContract('InMemoryConnectionQuota', async (caps, now) => {
    const quota: InMemoryConnectionQuota = new InMemoryConnectionQuota(
      caps,
      now,
      async (id: string): Promise<boolean> => (await connections.get(id)) !== undefined,
    );
    const connections: InMemoryConnectionRepository = new InMemoryConnectionRepository({ now, quota });
    return { quota, connections };
  });
}

describe(`DynamoDB adapters on ${onlyDynamoDbLocal ? 'DynamoDB Local' : 'dynalite'}`, () => {
  let dynamo: DynamoDbTarget | undefined;

  function started(): DynamoDbTarget {
    if (dynamo === undefined) throw new Error('DynamoDB did not start');
    return dynamo;
  }

  beforeAll(async () => {
    dynamo = await startSelectedDynamoDb();
  }, 90_000);

  afterAll(async () => {
    await dynamo?.stop();
  });

  connectionRepositoryContract('DynamoDbConnectionRepository', async (options) => {
    const target = started();
    // Every room grown from its first member, so that the contract's sharded listings are spread over their shards.
    return new DynamoDbConnectionRepository(target.documentClient, {
      tableName: await target.table(),
      ...options,
      growAt: 0,
    });
  });

  messageHistoryContract('DynamoDbMessageHistory', async (options) => {
    const target = started();
    const tableName = await target.table();
    return {
      history: new DynamoDbMessageHistory(target.documentClient, { tableName, retentionSeconds: 3600, ...options }),
      expireDue: (at) => expireDue(target.documentClient, tableName, at),
    };
  });

  shardProgressContract('DynamoDbShardProgress', async () => {
    const target = started();
    return new DynamoDbShardProgress(target.documentClient, { tableName: await target.table() });
  });

  presenceLogContract('DynamoDbPresenceLog', async () => {
    const target = started();
    return new DynamoDbPresenceLog(target.documentClient, { tableName: await target.table() });
  });

  presenceLogContract('DynamoDbPresenceLog in 3 shards', async () => {
    const target = started();
    return new DynamoDbPresenceLog(target.documentClient, { tableName: await target.table(), shards: 3 });
  });

  rateLimiterContract('DynamoDbRateLimiter', async (limit, now) => {
    const target = started();
    const tableName = await target.table();
    const connections = new DynamoDbConnectionRepository(target.documentClient, { tableName });
    return {
      limiter: new DynamoDbRateLimiter(target.documentClient, { tableName, limit, now }),
      register: (id) => connections.save(liveConnection(id)),
    };
  });

  ownerBudgetContract('DynamoDbOwnerBudget', async (limit, now) => {
    const target = started();
    const tableName = await target.table();
    const budget = new DynamoDbOwnerBudget(target.documentClient, { tableName, limit, now });
    return {
      budget,
      allows: (owner, weight) => allowedByCheck(target.documentClient, budget.check({ owner, weight })),
    };
  });

  connectionQuotaContract('DynamoDbConnectionQuota', async (caps, now) => {
    const target = started();
    const tableName = await target.table();
    const quota = new DynamoDbConnectionQuota(target.documentClient, { tableName, caps, now });
    return { quota, connections: new DynamoDbConnectionRepository(target.documentClient, { tableName, quota, now }) };
  });

  /** A repository at 2030-01-01 with one member whose row expired a minute before and one that lives an hour more. */
  async function roomWithAnExpiredRow() {
    const target = started();
    const at = new Date('2030-01-01T00:00:00.000Z');
    const repository = new DynamoDbConnectionRepository(target.documentClient, {
      tableName: await target.table(),
      now: () => at,
    });
    await repository.save({ ...liveConnection('gone'), expiresAt: new Date(at.getTime() - 60_000) });
    await repository.save({ ...liveConnection('here'), expiresAt: new Date(at.getTime() + 3_600_000) });
    return repository;
  }

  it.each(['0', '0.0000000000#a', `0.${Math.floor(Date.UTC(2030, 0, 1) / 1000) - 60}#gone`])(
    'lists no expired member for a roster cursor placed before the cut-off (%s)',
    async (forged) => {
      const repository = await roomWithAnExpiredRow();

      const page = await repository.members('lobby', 10, forged);

      expect(page.members.map((m) => m.id)).toEqual(['here']);
    },
  );

  it.each(['0.0000000000', '0.9999999999', '0.0000000000.0000000000#a'])(
    'refuses a roster cursor that names an expiry cut-off, which only the server sets (%s)',
    async (forged) => {
      const repository = await roomWithAnExpiredRow();

      await expect(repository.members('lobby', 10, forged)).rejects.toThrow(InvalidCursorError);
    },
  );

  it('refuses a frame over budget with one request in a container that has not refused it yet, and none after', async () => {
    const target = started();
    const tableName = await target.table();
    const { client, requests } = countingClient(target);
    const limit = { frames: 2, windowSeconds: 60 };
    const at = () => new Date('2030-01-01T00:00:30.000Z');
    await new DynamoDbConnectionRepository(client, { tableName }).save(liveConnection('a'));
    const limiter = new DynamoDbRateLimiter(client, { tableName, limit, now: at });
    await Promise.all([limiter.admit('a'), limiter.admit('a'), limiter.admit('a')]);
    const other = new DynamoDbRateLimiter(client, { tableName, limit, now: at });
    const before = requests();

    const elsewhere = await other.admit('a');
    const requestsElsewhere = requests() - before;
    const here = [await limiter.admit('a'), await limiter.admit('a', 10), await other.admit('a')];

    client.destroy();
    expect({ elsewhere, requestsElsewhere, here, requestsHere: requests() - before - requestsElsewhere }).toEqual({
      elsewhere: 'limited',
      requestsElsewhere: 1,
      here: ['limited', 'limited', 'limited'],
      requestsHere: 0,
    });
  });

  it('refuses an owner over budget with one request in a container that has not refused it yet, and none after', async () => {
    const target = started();
    const tableName = await target.table();
    const { client, requests } = countingClient(target);
    const limit = { frames: 2, windowSeconds: 60 };
    const at = () => new Date('2030-01-01T00:00:30.000Z');
    const budget = new DynamoDbOwnerBudget(client, { tableName, limit, now: at });
    await Promise.all([budget.spend('ip:a', 1), budget.spend('ip:a', 1), budget.spend('ip:a', 1)]);
    const other = new DynamoDbOwnerBudget(client, { tableName, limit, now: at });
    const before = requests();

    const elsewhere = await other.spend('ip:a', 1);
    const requestsElsewhere = requests() - before;
    const here = [await budget.spend('ip:a', 1), await other.spend('ip:a', 5)];

    client.destroy();
    expect({ elsewhere, requestsElsewhere, here, requestsHere: requests() - before - requestsElsewhere }).toEqual({
      elsewhere: 'limited-notify',
      // DynamoDB names the budget it refused with (ALL_OLD); a store that does not is asked once more.
      requestsElsewhere: onlyDynamoDbLocal ? 1 : 2,
      here: ['limited', 'limited'],
      requestsHere: 0,
    });
  });

  it("spends an idle owner's budget with one request", async () => {
    const target = started();
    const tableName = await target.table();
    const { client, requests } = countingClient(target);
    let now = new Date('2030-01-01T00:00:30.000Z');
    const budget = new DynamoDbOwnerBudget(client, {
      tableName,
      limit: { frames: 10, windowSeconds: 10 },
      now: () => now,
    });
    const spends = [await budget.spend('user:a', 1)];
    now = new Date(now.getTime() + 1_000);
    spends.push(await budget.spend('user:a', 1));

    client.destroy();
    expect({ spends, requests: requests() }).toEqual({ spends: ['allowed', 'allowed'], requests: 2 });
  });

  it("counts a connection's first frame with one request, starting its first window", async () => {
    const target = started();
    const tableName = await target.table();
    const { client, requests } = countingClient(target);
    const at = () => new Date('2030-01-01T00:00:30.000Z');
    await new DynamoDbConnectionRepository(client, { tableName }).save(liveConnection('first'));
    const limiter = new DynamoDbRateLimiter(client, { tableName, limit: { frames: 2, windowSeconds: 60 }, now: at });
    const before = requests();

    const first = await limiter.admit('first');
    const requestsOfFirst = requests() - before;
    const rest = [await limiter.admit('first'), await limiter.admit('first')];

    client.destroy();
    expect({ first, requestsOfFirst, rest }).toEqual({
      first: 'allowed',
      requestsOfFirst: 1,
      rest: ['allowed', 'limited-notify'],
    });
  });

  it("lists a grown room's other shards side by side once shard 0 names them: their first Queries all in flight together", async () => {
    const target = started();
    const tableName = await target.table();
    const client = DynamoDBDocumentClient.from(localDynamoDbClient(target.endpoint));
    let inFlight = 0;
    let most = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'QueryCommand') return next(args);
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          return await next(args);
        } finally {
          inFlight -= 1;
        }
      },
      { step: 'initialize' },
    );
    const repository = new DynamoDbConnectionRepository(client, { tableName, shards: 8, growAt: 0, pageSize: 2 });
    const ids = Array.from({ length: 24 }, (_, i) => `side-${String(i).padStart(2, '0')}`);
    for (const id of ids) await repository.save({ ...liveConnection(id), room: 'side-by-side' });

    const listed: string[] = [];
    for await (const page of repository.list('side-by-side')) listed.push(...page);

    client.destroy();
    expect({ listed: listed.sort(), most }).toEqual({ listed: ids, most: 7 });
  });

  it("fails a room's listing when one shard's Query fails, and asks nothing more of the others", async () => {
    const target = started();
    const tableName = await target.table();
    const client = DynamoDBDocumentClient.from(localDynamoDbClient(target.endpoint));
    let queries = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'QueryCommand') return next(args);
        queries += 1;
        const values = (args.input as { ExpressionAttributeValues?: Record<string, unknown> })
          .ExpressionAttributeValues;
        if (values?.[':room'] === 'room#failing#3') throw new Error('shard 3 is unavailable');
        return next(args);
      },
      { step: 'initialize' },
    );
    const repository = new DynamoDbConnectionRepository(client, { tableName, shards: 8, growAt: 0, pageSize: 1 });
    for (let i = 0; i < 40; i += 1) await repository.save({ ...liveConnection(`failing-${i}`), room: 'failing' });

    const listing = (async () => {
      for await (const page of repository.list('failing')) expect(page.length).toBeLessThanOrEqual(1);
    })();

    await expect(listing).rejects.toThrow('shard 3 is unavailable');
    client.destroy();
    expect(queries).toBeLessThan(40);
  });

  it('admits a frame from a connection that is not stored, so that the service can say it is unknown', async () => {
    const target = started();
    const limiter = new DynamoDbRateLimiter(target.documentClient, {
      tableName: await target.table(),
      limit: { frames: 1, windowSeconds: 10 },
    });

    expect([await limiter.admit('ghost'), await limiter.admit('ghost')]).toEqual(['allowed', 'allowed']);
  });
});
