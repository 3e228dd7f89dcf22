import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoDbClient, type LocalStack, projectRoot, startLocalStack } from '../../scripts/local-stack.ts';

/** The stack `npm start` runs, on free ports, with a bundle folder of its own, plus a view into its table. */
export interface TestStack extends LocalStack {
  /** Every connection id stored in the table, expired or not. */
  storedConnectionIds(): Promise<string[]>;
  /** Writes a connection row directly, as if its $disconnect had been lost. */
  insertConnectionRow(connectionId: string, expiresAtSeconds?: number): Promise<void>;
}

let stacks = 0;

export async function startTestStack(handlerEnv: Record<string, string> = {}): Promise<TestStack> {
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
    log: (line) => output.push(line),
  });
  const documents = DynamoDBDocumentClient.from(localDynamoDbClient(stack.dynamoDbEndpoint));

  return {
    ...stack,
    async storedConnectionIds() {
      const ids: string[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await documents.send(
          new QueryCommand({
            TableName: stack.tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': 'room#lobby' },
            ExclusiveStartKey: start,
          }),
        );
        for (const item of page.Items ?? []) ids.push(String(item['sk']).replace(/^conn#/, ''));
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
      return ids.sort();
    },
    async insertConnectionRow(connectionId, expiresAtSeconds = Math.floor(Date.now() / 1000) + 3600) {
      await documents.send(
        new PutCommand({
          TableName: stack.tableName,
          Item: { pk: 'room#lobby', sk: `conn#${connectionId}`, connectedAt: Date.now(), expiresAt: expiresAtSeconds },
        }),
      );
    },
    async stop() {
      documents.destroy();
      await stack.stop();
      await rm(join(projectRoot, buildFolder), { recursive: true, force: true });
    },
  };
}
