import { afterAll, beforeAll, describe } from '@jest/globals';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';
import { DynamoDbMessageHistory } from '../../src/adapters/dynamodb-message-history.ts';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import { type DynamoDbTarget, startSelectedDynamoDb } from '../support/dynamodb.ts';
import { connectionRepositoryContract } from './connection-repository.contract.ts';
import { messageHistoryContract } from './message-history.contract.ts';

const onlyDynamoDbLocal = process.env['CONTRACT_TARGET'] === 'dynamodb-local';

if (!onlyDynamoDbLocal) {
  connectionRepositoryContract('InMemoryConnectionRepository', async (options) => new InMemoryConnectionRepository(options));
  messageHistoryContract('InMemoryMessageHistory', async () => new InMemoryMessageHistory());
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
    return new DynamoDbConnectionRepository(target.documentClient, { tableName: await target.table(), ...options });
  });

  messageHistoryContract('DynamoDbMessageHistory', async () => {
    const target = started();
    return new DynamoDbMessageHistory(target.documentClient, { tableName: await target.table(), retentionSeconds: 3600 });
  });
});
