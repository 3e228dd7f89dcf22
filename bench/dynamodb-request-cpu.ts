/**
 * CPU of one DynamoDB request in the caller's process, through the handlers' client (the DynamoDB client with the
 * middleware the wiring removes removed, under lib-dynamodb's document client), against dynalite in a child process
 * so that the database's own CPU is not counted. Two ways in the same run: one request at a time, as a handler makes
 * most of its requests (each runs the SDK's whole per-request path alone), and 8 started together (the path's code
 * stays hot across the batch). Medians of 5 rounds. Loopback only.
 *
 *   node bench/dynamodb-request-cpu.ts [--requests 1000]
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createChatTable, freePort, LOCAL_TABLE } from '../scripts/local-stack.ts';
import { markdownTable, median } from './stats.ts';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '1000' } } });
const REQUESTS = Number(values.requests);
const ROUNDS = 5;
const TOGETHER = 8;

const port = await freePort();
const database = spawn(
  process.execPath,
  ['-e', `require('dynalite')({ createTableMs: 0 }).listen(${port}, '127.0.0.1', () => console.log('listening'))`],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
try {
  await new Promise<void>((resolve) => database.stdout?.once('data', () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  await createChatTable(endpoint, LOCAL_TABLE);
  const raw = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  // As src/handlers/wiring/composition-root.ts builds it.
  for (const name of ['loggerMiddleware', 'getUserAgentMiddleware', 'recursionDetectionMiddleware'])
    raw.middlewareStack.remove(name);
  const client = DynamoDBDocumentClient.from(raw);
  const Key = { pk: 'bench#request-cpu', sk: 'item' };
  await client.send(new PutCommand({ TableName: LOCAL_TABLE, Item: { ...Key, n: 0 } }));

  const operations = {
    GetItem: () => client.send(new GetCommand({ TableName: LOCAL_TABLE, Key })),
    'UpdateItem (ADD, ALL_NEW)': () =>
      client.send(
        new UpdateCommand({
          TableName: LOCAL_TABLE,
          Key,
          UpdateExpression: 'ADD n :one',
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      ),
  };

  /** µs of this process's CPU per request, `together` requests started at once until `REQUESTS` are done. */
  async function cpuPerRequest(operation: () => Promise<unknown>, together: number): Promise<number> {
    const start = process.cpuUsage();
    for (let done = 0; done < REQUESTS; done += together) {
      await Promise.all(Array.from({ length: together }, () => operation()));
    }
    const used = process.cpuUsage(start);
    return (used.user + used.system) / REQUESTS;
  }

  const rows: string[][] = [];
  for (const [name, operation] of Object.entries(operations)) {
    await cpuPerRequest(operation, TOGETHER); // warm-up
    const alone: number[] = [];
    const batched: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      alone.push(await cpuPerRequest(operation, 1));
      batched.push(await cpuPerRequest(operation, TOGETHER));
    }
    const [a, b] = [median(alone), median(batched)];
    rows.push([name, a.toFixed(0), b.toFixed(0), (b / a).toFixed(2)]);
  }
  console.log(
    markdownTable(
      ['request', 'µs CPU, one at a time', `µs CPU, ${TOGETHER} started together`, 'together / one at a time'],
      rows,
    ),
  );
  client.destroy();
} finally {
  database.kill();
}
