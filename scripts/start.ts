/** `npm start`: the chat backend on this machine, with no AWS account and no network. Ctrl-C stops it all. */
import {
  LOCAL_TABLE,
  type NamedPort,
  portFromEnv,
  portProblems,
  START_BUILD_FOLDER,
  startLocalStack,
} from './local-stack.ts';
import { devTokens } from './dev-tokens.ts';
import { startWebServer } from './web-server.ts';

const verbose = process.env['CHAT_VERBOSE'] === '1';
const authMode = process.env['CHAT_AUTH_MODE'] === 'jwt' ? 'jwt' : 'none';
// In jwt mode the authorizer verifies tokens signed with a secret made for this run (or AUTH_JWT_SECRET).
const tokens = authMode === 'jwt' ? devTokens(process.env['AUTH_JWT_SECRET'] || undefined) : undefined;

/** Every port this command listens on, by the variable that sets it. */
const ports = {
  web: { variable: 'CHAT_WEB_PORT', port: portFromEnv('CHAT_WEB_PORT', 8080) },
  websocket: { variable: 'CHAT_WS_PORT', port: portFromEnv('CHAT_WS_PORT', 3001) },
  lambda: { variable: 'CHAT_LAMBDA_PORT', port: portFromEnv('CHAT_LAMBDA_PORT', 3002) },
  http: { variable: 'CHAT_HTTP_PORT', port: portFromEnv('CHAT_HTTP_PORT', 3000) },
  dynamoDb: { variable: 'CHAT_DYNAMODB_PORT', port: portFromEnv('CHAT_DYNAMODB_PORT', 8000) },
  sqs: { variable: 'CHAT_SQS_PORT', port: portFromEnv('CHAT_SQS_PORT', 9324) },
} satisfies Record<string, NamedPort>;

// serverless-offline reports a port it cannot listen on and carries on without it; so check them all first.
const problems = await portProblems(Object.values(ports));
if (problems.length > 0) {
  console.error(
    [
      'The chat backend cannot start:',
      ...problems.map((problem) => `  ${problem.text}`),
      'Stop what listens there, or set the variable to another port (0 picks a free one), e.g.',
      `  ${problems[0]?.variable}=0 npm start`,
    ].join('\n'),
  );
  process.exit(1);
}
console.log('Starting the local chat stack (dynalite + serverless-offline)...');

const stack = await startLocalStack({
  websocketPort: ports.websocket.port,
  lambdaPort: ports.lambda.port,
  httpPort: ports.http.port,
  dynamoDbPort: ports.dynamoDb.port,
  sqsPort: ports.sqs.port,
  inProcess: process.env['CHAT_WORKER_THREADS'] !== '1',
  // CHAT_ESBUILD_DIR: a folder of another's own, for a second `npm start` (the tests run one beside the user's).
  buildFolder: process.env['CHAT_ESBUILD_DIR'] || START_BUILD_FOLDER,
  params: { authMode, allowedOrigins: process.env['CHAT_ALLOWED_ORIGINS'] ?? '' },
  handlerEnv: tokens ? { ...tokens.authorizerEnv } : {},
  log: (line) => {
    if (verbose || /error|warn|invalid configuration/i.test(line)) console.log(`  [offline] ${line}`);
  },
});

const web = await startWebServer({
  port: ports.web.port,
  websocketUrl: stack.websocketUrl,
  ...(tokens ? { mintToken: () => tokens.mint() } : {}),
}).catch(async (error: unknown) => {
  await stack.stop();
  console.error(
    `The chat page cannot be served on port ${ports.web.port} (CHAT_WEB_PORT): ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});

/** One command per terminal; in jwt mode each carries a development token of its own (a user of its own). */
const wscatCommands = tokens
  ? await Promise.all([1, 2].map(async () => `npx wscat -c "${stack.websocketUrl}/?token=${await tokens.mint()}"`))
  : [`npx wscat -c ${stack.websocketUrl}`];

console.log(`
Chat backend running.
  Chat page:       ${web.url}  (open it in two tabs)
  WebSocket URL:   ${stack.websocketUrl}
  @connections:    ${stack.managementEndpoint}
  DynamoDB:        ${stack.dynamoDbEndpoint} (table ${LOCAL_TABLE}, in memory)
  Publish API:     ${stack.httpEndpoint}  (IAM-signed HTTP: npm run publish -- --room lobby "hello")
  SQS:             ${stack.sqsEndpoint} (the fan-out and presence queues and their dead-letter queues, in memory)
  IAM:             ${process.env['CHAT_LOCAL_IAM'] === 'off' ? 'not checked (CHAT_LOCAL_IAM=off)' : "every call checked against its function's role, as on AWS (CHAT_LOCAL_IAM=off skips it)"}
  Authentication:  ${tokens ? 'jwt (the page and each wscat command below carry a development token, valid for 12 hours)' : 'none (CHAT_AUTH_MODE=jwt turns it on)'}

Try it in two terminals${tokens ? ', one command in each' : ''}:
${wscatCommands.map((command) => `  ${command}`).join('\n')}
then type a line, or {"action":"sendmessage","data":"hello"}, or {"action":"echo","text":"hi"}.

Press Ctrl-C to stop.`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping...`);
  await Promise.all([web.stop(), stack.stop()]);
  console.log('Stopped.');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
