/** `npm start`: the chat backend on this machine, with no AWS account and no network. Ctrl-C stops it all. */
import { LOCAL_TABLE, portFromEnv, startLocalStack } from './local-stack.ts';
import { devTokens } from './dev-tokens.ts';
import { startWebServer } from './web-server.ts';

const verbose = process.env['CHAT_VERBOSE'] === '1';
const authMode = process.env['CHAT_AUTH_MODE'] === 'jwt' ? 'jwt' : 'none';
// In jwt mode the authorizer verifies tokens signed with a secret made for this run (or AUTH_JWT_SECRET).
const tokens = authMode === 'jwt' ? devTokens(process.env['AUTH_JWT_SECRET'] || undefined) : undefined;
const webPort = portFromEnv('CHAT_WEB_PORT', 8080);
console.log('Starting the local chat stack (dynalite + serverless-offline)...');

const stack = await startLocalStack({
  websocketPort: portFromEnv('CHAT_WS_PORT', 3001),
  lambdaPort: portFromEnv('CHAT_LAMBDA_PORT', 3002),
  httpPort: portFromEnv('CHAT_HTTP_PORT', 3000),
  dynamoDbPort: portFromEnv('CHAT_DYNAMODB_PORT', 8000),
  sqsPort: portFromEnv('CHAT_SQS_PORT', 9324),
  inProcess: process.env['CHAT_WORKER_THREADS'] !== '1',
  buildFolder: '.esbuild',
  params: { authMode, allowedOrigins: process.env['CHAT_ALLOWED_ORIGINS'] ?? '' },
  handlerEnv: tokens ? { ...tokens.authorizerEnv } : {},
  log: (line) => {
    if (verbose || /error|warn|invalid configuration/i.test(line)) console.log(`  [offline] ${line}`);
  },
});

const web = await startWebServer({
  port: webPort,
  websocketUrl: stack.websocketUrl,
  ...(tokens ? { mintToken: () => tokens.mint() } : {}),
}).catch(async (error: unknown) => {
  await stack.stop();
  throw error;
});

console.log(`
Chat backend running.
  Chat page:       ${web.url}  (open it in two tabs)
  WebSocket URL:   ${stack.websocketUrl}
  @connections:    ${stack.managementEndpoint}
  DynamoDB:        ${stack.dynamoDbEndpoint} (table ${LOCAL_TABLE}, in memory)
  Publish API:     ${stack.httpEndpoint}  (IAM-signed HTTP: npm run publish -- --room lobby "hello")
  SQS:             ${stack.sqsEndpoint} (the fan-out queue and its dead-letter queue, in memory)
  IAM:             ${process.env['CHAT_LOCAL_IAM'] === 'off' ? 'not checked (CHAT_LOCAL_IAM=off)' : "every call checked against its function's role, as on AWS (CHAT_LOCAL_IAM=off skips it)"}
  Authentication:  ${tokens ? `jwt (the page gets a development token; for wscat add ?token=${await tokens.mint()})` : 'none (CHAT_AUTH_MODE=jwt turns it on)'}

Try it in two terminals:
  npx wscat -c ${stack.websocketUrl}
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
