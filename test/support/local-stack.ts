import { CONNECTION_PREFIX } from '../../src/adapters/dynamodb-keys.ts';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';
import { localDynamoDbClient, type LocalStack, projectRoot, startLocalStack } from '../../scripts/local-stack.ts';

/** The stack `npm start` runs, on free ports, with a bundle folder of its own, plus a view into its table. */
export interface TestStack extends LocalStack {
  /** Every connection id stored in the table, expired or retired or not, sorted. */
  storedConnectionIds(): Promise<string[]>;
  /** The ids a fan-out to the room would reach, read by the real adapter, sorted. */
  roomMembers(room?: string): Promise<string[]>;
  /** Writes a connection row directly, as if its $disconnect had been lost. */
  insertConnectionRow(connectionId: string, room?: string, expiresAtSeconds?: number): Promise<void>;
}

let stacks = 0;

export async function startTestStack(
  handlerEnv: Record<string, string> = {},
  params: Record<string, string> = {},
): Promise<TestStack> {
  stacks += 1;
  const buildFolder = join('.esbuild', `test-${process.pid}-${stacks}`);
  const output: string[] = [];
  const stack = await startLocalStack({
    websocketPort: 0,
    lambdaPort: 0,
    httpPort: 0,
    dynamoDbPort: 0,
    inProcess: true,
    buildFolder,
    handlerEnv,
    params,
    log: (line) => output.push(line),
  });
  const documents = DynamoDBDocumentClient.from(localDynamoDbClient(stack.dynamoDbEndpoint));

  return {
    ...stack,
    async storedConnectionIds() {
      // A test inspecting the whole table may Scan; the product never does.
      const ids: string[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await documents.send(
          new ScanCommand({
            TableName: stack.tableName,
            FilterExpression: 'begins_with(pk, :prefix)',
            ExpressionAttributeValues: { ':prefix': CONNECTION_PREFIX },
            ExclusiveStartKey: start,
          }),
        );
        for (const item of page.Items ?? []) ids.push(String(item['pk']).slice(CONNECTION_PREFIX.length));
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
      return ids.sort();
    },
    async roomMembers(room = 'lobby') {
      const ids: string[] = [];
      for await (const page of new DynamoDbConnectionRepository(documents, { tableName: stack.tableName }).list(room)) ids.push(...page);
      return ids.sort();
    },
    async insertConnectionRow(connectionId, room = 'lobby', expiresAtSeconds = Math.floor(Date.now() / 1000) + 3600) {
      // Written by the real adapter, so the row has exactly the shape the handlers write.
      await new DynamoDbConnectionRepository(documents, { tableName: stack.tableName }).save({
        id: connectionId,
        room,
        name: 'Ghost',
        // Connected an hour ago: a row whose $disconnect was lost is long past its handshake.
        connectedAt: new Date(Date.now() - 3_600_000),
        expiresAt: new Date(expiresAtSeconds * 1000),
        revision: 0,
        announced: false,
      });
    },
    async stop() {
      documents.destroy();
      await stack.stop();
      await rm(join(projectRoot, buildFolder), { recursive: true, force: true });
    },
  };
}
