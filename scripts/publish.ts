/**
 * `npm run publish -- --room kitchen "Dinner is ready"`: publishes a message into a room through the publish API,
 * signed with SigV4 as an AWS SDK client signs. Against the local stack (`npm start`, the default URL) it signs as
 * the local publisher, whose policy is the template's PublisherPolicy; against a deployed stage (`--url` with the
 * stack's HttpApiUrl) with the AWS SDK's default credentials (environment, profile, SSO, instance role).
 *
 * Options: --room <room> (required), --name <display name>, --id <clientMsgId>, --url <base URL>, --region <region>.
 * `--describe` and `--history [afterSeq]` read the room instead of publishing.
 */
import { parseArgs } from 'node:util';
import { LOCAL_SECRET, PUBLISHER_ACCESS_KEY } from './local-iam/http-api-check.ts';
import { portFromEnv } from './local-stack.ts';
import { type Credentials, PublishClient } from './publish-client.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    room: { type: 'string' },
    name: { type: 'string' },
    id: { type: 'string' },
    url: { type: 'string' },
    region: { type: 'string' },
    describe: { type: 'boolean', default: false },
    history: { type: 'boolean', default: false },
  },
});

const endpoint =
  values.url ?? process.env['CHAT_PUBLISH_URL'] ?? `http://127.0.0.1:${portFromEnv('CHAT_HTTP_PORT', 3000)}`;
const local = ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(endpoint).hostname);

async function credentials(): Promise<Credentials> {
  if (local) return { accessKeyId: PUBLISHER_ACCESS_KEY, secretAccessKey: LOCAL_SECRET };
  const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
  return fromNodeProviderChain()();
}

function usage(problem: string): never {
  console.error(`${problem}
usage: npm run publish -- --room <room> [--name <name>] [--id <clientMsgId>] [--url <base URL>] "<text>"
       npm run publish -- --room <room> --describe
       npm run publish -- --room <room> --history [afterSeq]`);
  process.exit(2);
}

const room = values.room ?? usage('--room is required');
const client = new PublishClient({
  endpoint,
  credentials,
  ...(values.region === undefined ? {} : { region: values.region }),
});
let answer;
if (values.describe) answer = await client.describe(room);
else if (values.history) answer = await client.messages(room, positionals[0]);
else {
  const text = positionals.join(' ');
  if (text === '') usage('the message text is missing');
  answer = await client.publish(room, {
    text,
    ...(values.id === undefined ? {} : { clientMsgId: values.id }),
    ...(values.name === undefined ? {} : { name: values.name }),
  });
}
console.log(`${answer.status} ${typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body, null, 2)}`);
if (answer.status >= 400) process.exitCode = 1;
