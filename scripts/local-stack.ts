/**
 * The local stack: an embedded DynamoDB (dynalite), the connections table created from serverless.yml,
 * and serverless-offline running the real handlers, with the fan-out worker's queues in its process (scripts/offline-sqs-plugin.ts). Used by `npm start` and by the end-to-end tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { createRequire } from 'node:module';
import { connect, createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateTableCommand,
  type AttributeDefinition,
  type GlobalSecondaryIndex,
  DynamoDBClient,
  type KeySchemaElement,
  ResourceInUseException,
  type TimeToLiveSpecification,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { parse } from 'yaml';
import type { WireRequest } from './local-iam/aws-calls.ts';
import { addTransactions } from './dynalite-transactions.ts';
import { refuseWebPages } from './refuse-web-pages.ts';
import { checkDynaliteRequests } from './local-iam/dynalite-check.ts';
import { ADMIN_ACCESS_KEY, checkRequest, type Refusal } from './local-iam/iam-proxy.ts';
import { dynamoDbCheck, judgedBy, POLICY_FILE_VARIABLE, readPolicy } from './local-iam/local-policy.ts';
import { UsageLog } from './local-iam/usage-log.ts';

const require = createRequire(import.meta.url);
export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

export const LOCAL_STAGE = 'local';
/**
 * Where `npm start` bundles the handlers. Beside, never around, the folders of `npm run package` (serverless.yml's
 * outputWorkFolder, .esbuild/package, which packaging deletes when done) and of each test and benchmark stack.
 */
export const START_BUILD_FOLDER = join('.esbuild', 'start');
export const LOCAL_TABLE = `ws-chat-${LOCAL_STAGE}`;
const DUMMY_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: ADMIN_ACCESS_KEY,
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_REGION: 'us-east-1',
};

export interface LocalStackOptions {
  /** 0 picks a free port. */
  readonly websocketPort: number;
  readonly lambdaPort: number;
  readonly httpPort: number;
  /** An already running DynamoDB endpoint; when absent, dynalite is started on `dynamoDbPort`. */
  readonly dynamoDbEndpoint?: string;
  readonly dynamoDbPort: number;
  /** The local SQS (fauxqs, in the emulator's process) of the fan-out worker's queues; absent or 0 picks a free port. */
  readonly sqsPort?: number;
  /** Extra environment for the handlers, e.g. CHAT_MODE. */
  readonly handlerEnv?: Record<string, string>;
  /** serverless.yml params, e.g. `{ authMode: 'jwt', allowedOrigins: 'http://127.0.0.1:8080' }`. */
  readonly params?: Record<string, string>;
  /** false: the queues' event sources do not run, so a test can poll a queue with a worker of its own. */
  readonly pollQueues?: boolean;
  /** Run handlers in serverless-offline's own process instead of one worker thread per busy function. */
  readonly inProcess: boolean;
  /** Where serverless-esbuild writes bundles, relative to the project; separate stacks need separate folders. */
  readonly buildFolder: string;
  /** The folder of the serverless.yml to run, when not the project's (a benchmark's floor service). */
  readonly serviceFolder?: string;
  readonly log?: (line: string) => void;
}

export interface LocalStack {
  readonly websocketUrl: string;
  readonly managementEndpoint: string;
  readonly dynamoDbEndpoint: string;
  readonly tableName: string;
  /** The local SQS endpoint, where the fan-out and presence queues and their dead-letter queues are. */
  readonly sqsEndpoint: string;
  /** The emulator's Lambda API (Invoke), which the queue's event source calls. */
  readonly lambdaEndpoint: string;
  /** The publish API (serverless.yml's httpApi routes), signed with SigV4 as on AWS. */
  readonly httpEndpoint: string;
  /** Stops the emulator and the database; resolves once both are gone. */
  stop(): Promise<void>;
}

/** Reads a port from the environment: absent means the default, 0 means any free port. */
export function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`${name} must be a port number, got "${raw}"`);
  return port;
}

/** A port a local command listens on, and the variable that sets it. */
export interface NamedPort {
  readonly variable: string;
  readonly port: number;
}

/** Whether something already listens on the port at 127.0.0.1 (or on every address). */
async function inUse(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise<boolean>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EADDRINUSE' ? resolve(true) : reject(error),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });
}

/** Why a port cannot be listened on, and the variable to change. */
export interface PortProblem {
  readonly variable: string;
  readonly text: string;
}

/** Why these ports cannot all be listened on (a port in use, a port named twice), or none. 0, any free port, is fine. */
export async function portProblems(ports: readonly NamedPort[]): Promise<PortProblem[]> {
  const problems: PortProblem[] = [];
  const named = new Map<number, string>();
  for (const { variable, port } of ports) {
    if (port === 0) continue;
    const other = named.get(port);
    if (other !== undefined) problems.push({ variable, text: `port ${port} is set for both ${other} and ${variable}` });
    else if (await inUse(port))
      problems.push({ variable, text: `port ${port} (${variable}) is already in use on 127.0.0.1` });
    named.set(port, other ?? variable);
  }
  return problems;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('could not find a free port');
  return address.port;
}

async function resolvePort(port: number): Promise<number> {
  return port === 0 ? freePort() : port;
}

interface TableDefinition {
  AttributeDefinitions: AttributeDefinition[];
  KeySchema: KeySchemaElement[];
  GlobalSecondaryIndexes?: GlobalSecondaryIndex[];
  TimeToLiveSpecification?: TimeToLiveSpecification;
}

/** The chat table as serverless.yml declares it: the one definition both AWS and the local stack use. */
export function chatTableDefinition(): TableDefinition {
  const service: unknown = parse(readFileSync(join(projectRoot, 'serverless.yml'), 'utf8'));
  const table = (service as { resources?: { Resources?: Record<string, { Properties?: TableDefinition }> } }).resources
    ?.Resources?.['ChatTable']?.Properties;
  if (!table?.KeySchema || !table.AttributeDefinitions) throw new Error('serverless.yml has no ChatTable');
  return table;
}

/** A DynamoDB client for a local endpoint, with the dummy credentials local emulators accept. */
export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: DUMMY_CREDENTIALS.AWS_REGION,
    credentials: {
      accessKeyId: DUMMY_CREDENTIALS.AWS_ACCESS_KEY_ID,
      secretAccessKey: DUMMY_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
    },
  });
}

/** Creates the table from its serverless.yml definition, unless it exists; waits until it is ACTIVE. */
export async function createChatTable(endpoint: string, tableName: string): Promise<void> {
  const definition = chatTableDefinition();
  const client = localDynamoDbClient(endpoint);
  try {
    try {
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          AttributeDefinitions: definition.AttributeDefinitions,
          KeySchema: definition.KeySchema,
          GlobalSecondaryIndexes: definition.GlobalSecondaryIndexes,
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1 }, { TableName: tableName });
    if (definition.TimeToLiveSpecification) {
      // DynamoDB Local honours TTL; dynalite has no UpdateTimeToLive, and reads filter expired rows anyway.
      await client
        .send(
          new UpdateTimeToLiveCommand({
            TableName: tableName,
            TimeToLiveSpecification: definition.TimeToLiveSpecification,
          }),
        )
        .catch((error: unknown) => {
          if (
            !(error instanceof Error) ||
            !/UnknownOperation|not supported|Unknown/i.test(`${error.name} ${error.message}`)
          )
            throw error;
        });
    }
  } finally {
    client.destroy();
  }
}

/**
 * Starts dynalite on `127.0.0.1:<port>`. `check` judges each request first, when given (the local IAM); before
 * anything, a request from a web page is refused (dynalite itself would grant any origin everything).
 */
export async function startDynalite(
  port: number,
  check?: (request: WireRequest) => Refusal | undefined,
): Promise<{ endpoint: string; server: Server }> {
  const dynalite = require('dynalite') as (options: Record<string, number>) => HttpServer;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  // The chat writes a connection change and its presence record in one transaction; dynalite has none of its own.
  addTransactions(server);
  if (check !== undefined) checkDynaliteRequests(server, check);
  refuseWebPages(server);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${port}`, server };
}

function waitForListening(child: ChildProcess, marker: RegExp, timeoutMs: number, log: (line: string) => void) {
  return new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => fail(new Error(`serverless-offline did not start within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      output = (output + text).slice(-20_000);
      for (const line of text.split('\n')) if (line.trim() !== '') log(line);
      if (marker.test(output)) done();
    };
    const onExit = (code: number | null): void => fail(new Error(`serverless-offline exited (${code}):\n${output}`));
    function cleanup(): void {
      clearTimeout(timer);
      child.off('exit', onExit);
    }
    function done(): void {
      cleanup();
      resolve();
    }
    function fail(error: Error): void {
      cleanup();
      reject(error);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Whether something accepts TCP connections on the port within `withinMs`. */
async function accepts(port: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => socket.end(() => resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/**
 * The local IAM's check of the handlers' DynamoDB requests, for the dynalite this process starts (`check`): the
 * emulator's plugin (scripts/offline-iam-plugin.ts) writes each function's role and key to `policyFile` before it
 * listens, and `load` reads it. Until then only the administrator's requests (this process's, and the tests') pass.
 */
function checkDynalite(
  options: Pick<LocalStackOptions, 'handlerEnv'>,
): { policyFile: string; check(request: WireRequest): Refusal | undefined; load(): void; close(): void } | undefined {
  const switchedOff = (options.handlerEnv?.['CHAT_LOCAL_IAM'] ?? process.env['CHAT_LOCAL_IAM']) === 'off';
  if (switchedOff) return undefined;
  // Unique per stack: a test runner may load this module afresh for each test file in one process.
  const name = `${process.pid}-${randomUUID()}`;
  const policyFile = join(tmpdir(), `ws-chat-iam-${name}.json`);
  const usage = new UsageLog();
  let judged: ReturnType<typeof judgedBy>;
  let check = (request: WireRequest): Refusal | undefined =>
    checkRequest({ service: 'dynamodb', decode: () => [], principals: new Map(), resources: {}, usage }, request);
  const writer = usage.writePeriodically(`dynalite-${name}`, () => judged);
  return {
    policyFile,
    check: (request) => check(request),
    load() {
      const policy = readPolicy(policyFile);
      check = dynamoDbCheck(policy, usage);
      judged = judgedBy(policy);
    },
    close() {
      writer.stop();
      rmSync(policyFile, { force: true });
    },
  };
}

/**
 * The stack as the tests, benchmarks and profiler run it: every port free, handlers in the emulator's process,
 * bundles in a folder of the caller's own.
 */
export function startStackOnFreePorts(
  options: Pick<LocalStackOptions, 'buildFolder' | 'handlerEnv' | 'params' | 'pollQueues' | 'serviceFolder' | 'log'>,
): Promise<LocalStack> {
  return startLocalStack({
    websocketPort: 0,
    lambdaPort: 0,
    httpPort: 0,
    dynamoDbPort: 0,
    sqsPort: 0,
    inProcess: true,
    ...options,
    // serverless.yml's custom.esbuild.watch: a path that does not exist, so no edit elsewhere reloads the handlers mid-run.
    handlerEnv: { CHAT_ESBUILD_WATCH: '.esbuild/no-watch', ...options.handlerEnv },
  });
}

/**
 * Starts dynalite (unless an endpoint is given), creates the table, then serverless-offline, and returns
 * once the WebSocket port answers (the emulator logs "listening" a moment before it is). A free port found
 * by `freePort` can be taken by another process before the emulator binds it; when the ports were chosen
 * here, a stack whose WebSocket port never answers is stopped and started again on new ports.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const portsChosenHere = options.websocketPort === 0 && options.lambdaPort === 0 && options.httpPort === 0;
  for (let attempt = 1; ; attempt += 1) {
    const stack = await startLocalStackOnce(options);
    if (await accepts(Number(new URL(stack.websocketUrl).port), 10_000)) return stack;
    await stack.stop();
    if (!portsChosenHere || attempt >= 3)
      throw new Error(`serverless-offline is not listening on ${stack.websocketUrl}`);
  }
}

async function startLocalStackOnce(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const [websocketPort, lambdaPort, httpPort, sqsPort] = await Promise.all([
    resolvePort(options.websocketPort),
    resolvePort(options.lambdaPort),
    resolvePort(options.httpPort),
    resolvePort(options.sqsPort ?? 0),
  ]);
  let database: Server | undefined;
  let dynamoDbEndpoint = options.dynamoDbEndpoint;
  const iam = dynamoDbEndpoint === undefined ? checkDynalite(options) : undefined;
  if (dynamoDbEndpoint === undefined) {
    const started = await startDynalite(await resolvePort(options.dynamoDbPort), iam?.check).catch((error: unknown) => {
      iam?.close();
      throw error;
    });
    database = started.server;
    dynamoDbEndpoint = started.endpoint;
  }
  const closeDatabase = (): Promise<void> =>
    new Promise<void>((resolve) => (database ? database.close(() => resolve()) : resolve())).then(() => iam?.close());

  const managementEndpoint = `http://127.0.0.1:${websocketPort}`;
  // scripts/offline-sqs-plugin.ts serves the queues there and gives the handlers the endpoint and the queues' URLs.
  const sqsEndpoint = `http://127.0.0.1:${sqsPort}`;
  let child: ChildProcess | undefined;
  try {
    await createChatTable(dynamoDbEndpoint, LOCAL_TABLE);
    const args = [
      'offline',
      '--stage',
      LOCAL_STAGE,
      '--host',
      '127.0.0.1',
      '--websocketPort',
      String(websocketPort),
      '--lambdaPort',
      String(lambdaPort),
      '--httpPort',
      String(httpPort),
      '--noSponsor',
      ...(options.inProcess ? ['--useInProcess'] : []),
      // osls refuses an empty --param value; an unset param keeps serverless.yml's default.
      ...Object.entries(options.params ?? {})
        .filter(([, value]) => value !== '')
        .map(([name, value]) => `--param=${name}=${value}`),
    ];
    // On this process's Node, not whichever `node` PATH finds first: serverless.yml's esbuild plugins are TypeScript.
    child = spawn(process.execPath, [join(projectRoot, 'node_modules', '.bin', 'serverless'), ...args], {
      cwd: options.serviceFolder ?? projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...DUMMY_CREDENTIALS,
        AWS_ENDPOINT_URL_DYNAMODB: dynamoDbEndpoint,
        WEBSOCKET_MANAGEMENT_ENDPOINT: managementEndpoint,
        SQS_ENDPOINT: sqsEndpoint,
        CHAT_ESBUILD_DIR: options.buildFolder,
        ...(iam === undefined ? {} : { [POLICY_FILE_VARIABLE]: iam.policyFile }),
        ...options.handlerEnv,
        // Read by scripts/offline-sqs-plugin.ts (serverless.yml's custom.offlineSqs.poll).
        ...(options.pollQueues === false ? { CHAT_SQS_POLL: 'false' } : {}),
      },
    });
    await waitForListening(child, /Offline \[websocket\] listening on/, 60_000, log);
    // The emulator's plugin wrote the functions' roles and keys before it started listening.
    iam?.load();
  } catch (error) {
    // A stack that failed to start must not leave the emulator or the database behind.
    if (child !== undefined) await stopChild(child, 5_000);
    await closeDatabase();
    throw error;
  }

  const emulator = child;
  return {
    websocketUrl: `ws://127.0.0.1:${websocketPort}`,
    managementEndpoint,
    dynamoDbEndpoint,
    tableName: LOCAL_TABLE,
    sqsEndpoint,
    lambdaEndpoint: `http://127.0.0.1:${lambdaPort}`,
    httpEndpoint: `http://127.0.0.1:${httpPort}`,
    async stop() {
      await stopChild(emulator, 5_000);
      await closeDatabase();
    },
  };
}
