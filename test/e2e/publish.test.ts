import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { projectRoot } from '../../scripts/local-stack.ts';
import { LOCAL_SECRET, PUBLISHER_ACCESS_KEY } from '../../scripts/local-iam/http-api-check.ts';
import { accessKeyOf } from '../../scripts/offline-iam-plugin.ts';
import { type ApiAnswer, PublishClient } from '../../scripts/publish-client.ts';
import { OpenApiContract } from '../support/openapi-contract.ts';
import { ofType } from '../support/chat-client.ts';
import { stackPerFile } from '../support/stack-per-file.ts';

const PROBLEM = 'application/problem+json';

/** Runs `npm run publish`'s script with these arguments, on this process's Node. */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(projectRoot, 'scripts', 'publish.ts'), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout }));
  });
}
const contract = OpenApiContract.fromFile();

/** A client whose every answer must be one openapi.yaml documents: the document checked against real traffic. */
class ContractCheckedClient extends PublishClient {
  override async request(...args: Parameters<PublishClient['request']>): Promise<ApiAnswer> {
    const [method, path] = args;
    const answer = await super.request(...args);
    const template = path.replace(/^\/rooms\/[^/]+/, '/rooms/{room}');
    const problems = contract.answerProblems(method, template, answer);
    if (problems.length > 0) throw new Error(`the answer breaks openapi.yaml: ${problems.join('; ')}`);
    return answer;
  }
}

describe('the publish API on the local stack, signed with SigV4 as an AWS SDK client signs', () => {
  const local = stackPerFile();
  const client = (accessKeyId = PUBLISHER_ACCESS_KEY, secretAccessKey = LOCAL_SECRET) =>
    new ContractCheckedClient({ endpoint: local.stack.httpEndpoint, credentials: { accessKeyId, secretAccessKey } });

  it('delivers a published message to every client in the room, marked as the publisher’s, and replays it after a reconnect', async () => {
    const [alice, bob] = [await local.connect('room=kitchen'), await local.connect('room=kitchen')];
    await Promise.all([alice.whoAmI(), bob.whoAmI()]);

    const answer = await client().publish('kitchen', { text: 'Dinner is ready', name: 'Kitchen' });

    const [toAlice] = await alice.waitFor(ofType('message'));
    const [toBob] = await bob.waitFor(ofType('message'));
    await alice.close();
    const again = await local.connect('room=kitchen');
    again.send({ action: 'hello' });
    const [replayed] = await again.waitFor(ofType('message'));
    expect({ answer: answer.status, toAlice, same: [toBob, replayed] }).toEqual({
      answer: 200,
      toAlice: expect.objectContaining({
        type: 'message',
        room: 'kitchen',
        from: 'publisher:Kitchen',
        name: 'Kitchen',
        text: 'Dinner is ready',
        seq: expect.any(Number),
      }),
      same: [toAlice, toAlice],
    });
  });

  it('publishes from the command line, `npm run publish -- --room <room> "<text>"`, signed as the local publisher', async () => {
    const listener = await local.connect('room=cli');
    await listener.whoAmI();

    const run = await runCli([
      '--url',
      local.stack.httpEndpoint,
      '--room',
      'cli',
      '--name',
      'Deploys',
      'Deploy finished',
    ]);

    const [message] = await listener.waitFor(ofType('message'));
    expect({ exit: run.code, answered: run.stdout.split(' ')[0], message }).toEqual({
      exit: 0,
      answered: '200',
      message: expect.objectContaining({ from: 'publisher:Deploys', text: 'Deploy finished' }),
    });
  });

  it("answers the ack's content, and takes a retry with the same clientMsgId for the same message", async () => {
    const listener = await local.connect('room=orders');
    await listener.whoAmI();

    const first = await client().publish('orders', { text: 'Order 7 shipped', clientMsgId: 'order-7' });
    const retry = await client().publish('orders', { text: 'Order 7 shipped', clientMsgId: 'order-7' });
    const kept = await client().messages('orders');

    expect({ first, retry: retry.body, kept: kept.body }).toEqual({
      first: expect.objectContaining({
        status: 200,
        contentType: expect.stringContaining('application/json'),
        body: {
          clientMsgId: 'order-7',
          id: expect.any(String),
          seq: 1,
          recipients: 1,
          delivered: 1,
          gone: 0,
          failed: 0,
        },
      }),
      retry: first.body,
      kept: { room: 'orders', messages: [expect.objectContaining({ text: 'Order 7 shipped', seq: 1 })] },
    });
  });

  it("tells a room's member count and latest seq, an unknown room as empty, and its history after a seq", async () => {
    const member = await local.connect('room=status');
    await member.whoAmI();
    for (const text of ['one', 'two']) await client().publish('status', { text });

    const described = await client().describe('status');
    const unknown = await client().describe('never-used');
    const after = await client().messages('status', 1);

    expect({ described: described.body, unknown: unknown.body, after: after.body }).toEqual({
      described: { room: 'status', members: 1, latestSeq: 2 },
      unknown: { room: 'never-used', members: 0, latestSeq: 0 },
      after: { room: 'status', messages: [expect.objectContaining({ seq: 2, text: 'two' })] },
    });
  });

  it('refuses bad input with a 400 problem+json and no stack, and publishes nothing', async () => {
    const answers = await Promise.all([
      client().publish('kitchen', '{"text":'),
      client().publish('kitchen', { text: '   ' }),
      client().publish('kitchen', { text: 'x'.repeat(5000) }),
      client().publish('bad room', { text: 'hi' }),
      client().messages('kitchen', 'soon'),
    ]);

    expect(answers.map((a) => [a.status, a.contentType, (a.body as { type?: string }).type])).toEqual([
      [400, PROBLEM, 'urn:ws-chat:problem:invalid_json'],
      [400, PROBLEM, 'urn:ws-chat:problem:empty_message'],
      [400, PROBLEM, 'urn:ws-chat:problem:message_too_large'],
      [400, PROBLEM, 'urn:ws-chat:problem:invalid_room'],
      [400, PROBLEM, 'urn:ws-chat:problem:invalid_request'],
    ]);
    expect(JSON.stringify(answers.map((a) => a.body))).not.toMatch(/\bat .+:\d+|stack/i);
  });

  it("refuses a caller whose role does not allow execute-api:Invoke (the message function's), by the local IAM check", async () => {
    const answer = await client(accessKeyOf('message')).publish('kitchen', { text: 'not mine to send' });

    expect({ status: answer.status, body: answer.body }).toEqual({
      status: 403,
      body: {
        message: expect.stringMatching(
          /assumed-role\/MessageRole\/message is not authorized to perform: execute-api:Invoke/,
        ),
      },
    });
  });

  it('refuses a request signed with the wrong secret, an unknown key, or no signature at all', async () => {
    const wrongSecret = await client(PUBLISHER_ACCESS_KEY, 'not-the-secret').publish('kitchen', { text: 'hi' });
    const unknownKey = await client('AKIASOMEONEELSE').publish('kitchen', { text: 'hi' });
    const unsigned = await fetch(`${local.stack.httpEndpoint}/rooms/kitchen/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hi' }),
    });
    const history = await client().messages('kitchen');

    expect({
      statuses: [wrongSecret.status, unknownKey.status, unsigned.status],
      signature: wrongSecret.body,
      forged: (history.body as { messages: unknown[] }).messages.filter((m) => JSON.stringify(m).includes('"hi"')),
    }).toEqual({
      statuses: [403, 403, 403],
      signature: { message: expect.stringContaining('signature we calculated does not match') },
      forged: [],
    });
  });

  it('ignores an authorizer override header a caller adds: the caller is who signed', async () => {
    const body = JSON.stringify({ text: 'who am I?', clientMsgId: 'forged-1' });
    const forged = JSON.stringify({ iam: { userArn: 'arn:aws:iam::123456789012:user/admin' } });

    const signed = await client().request('POST', '/rooms/forged/messages', { body });
    const withOverride = await client().request('POST', '/rooms/forged/messages', {
      body,
      unsignedHeaders: { 'sls-offline-authorizer-override': forged },
    });

    // Had the header named the caller, the same clientMsgId from another caller would be a second message.
    expect({ status: withOverride.status, same: withOverride.body }).toEqual({ status: 200, same: signed.body });
  });
});
