import { afterAll, beforeAll, describe } from '@jest/globals';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { type DynamoDbTarget, startSelectedDynamoDb } from '../support/dynamodb.ts';
import { connectionRepositoryContract } from './connection-repository.contract.ts';

const onlyDynamoDbLocal = process.env['CONTRACT_TARGET'] === 'dynamodb-local';

if (!onlyDynamoDbLocal) {
  connectionRepositoryContract('InMemoryConnectionRepository', async (options) => new InMemoryConnectionRepository(options));
}

describe(`DynamoDbConnectionRepository on ${onlyDynamoDbLocal ? 'DynamoDB Local' : 'dynalite'}`, () => {
  let dynamo: DynamoDbTarget | undefined;

  beforeAll(async () => {
    dynamo = await startSelectedDynamoDb();
  }, 90_000);

  afterAll(async () => {
    await dynamo?.stop();
  });

  connectionRepositoryContract('DynamoDbConnectionRepository', async (options) => {
    if (dynamo === undefined) throw new Error('DynamoDB did not start');
    return new DynamoDbConnectionRepository(dynamo.documentClient, { tableName: await dynamo.table(), ...options });
  });
});
