import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ASYNCAPI_PATH } from '../../scripts/asyncapi-document.ts';
import { clientTypes } from '../../scripts/client-types-generator.ts';
import { ProtocolContract } from '../support/protocol-contract.ts';
import { stackPerFile } from '../support/stack-per-file.ts';

const run = promisify(execFile);
const CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'generated-types-client', 'client.ts');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** A frontend's strict settings, with the DOM's WebSocket and none of Node's types. */
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2024',
    lib: ['ES2024', 'DOM'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    verbatimModuleSyntax: true,
    erasableSyntaxOnly: true,
    allowImportingTsExtensions: true,
    noEmit: true,
    types: [],
  },
  files: ['chat-protocol.ts', 'client.ts'],
};

describe('a client written against the TypeScript types generated from asyncapi.yaml', () => {
  const local = stackPerFile();
  let folder = '';

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'generated-types-'));
    await writeFile(join(folder, 'chat-protocol.ts'), await clientTypes(await readFile(ASYNCAPI_PATH, 'utf8')));
    await copyFile(CLIENT, join(folder, 'client.ts'));
    await writeFile(join(folder, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    await writeFile(join(folder, 'package.json'), JSON.stringify({ type: 'module' }));
  });

  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true });
  });

  it('compiles with them under strict TypeScript', async () => {
    const compiled = run(process.execPath, [tsc, '-p', join(folder, 'tsconfig.json')]).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );

    expect(await compiled).toBe('');
  });

  it('says hello, is welcomed, sends a message and gets its copy and its ack from the local stack', async () => {
    const room = `generated-${process.pid}`;
    const text = 'typed by Modelina';
    const script =
      'const { chat } = await import(process.argv[1]);' +
      'console.log(JSON.stringify(await chat(process.argv[2], process.argv[3])));';

    // Node runs the client's TypeScript as it is (type stripping): what it runs is what tsc checked.
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        script,
        pathToFileURL(join(folder, 'client.ts')).href,
        `${local.stack.websocketUrl}/?room=${room}&name=Typed`,
        text,
      ],
      { timeout: 30_000 },
    );
    const transcript = JSON.parse(stdout) as {
      sent: string[];
      received: string[];
      welcome: Record<string, unknown>;
      message: Record<string, unknown>;
      ack: Record<string, unknown>;
    };

    expect(transcript.welcome).toMatchObject({ type: 'welcome', room, name: 'Typed' });
    expect(transcript.message).toMatchObject({ type: 'message', room, name: 'Typed', text });
    expect(transcript.ack).toMatchObject({ type: 'ack', id: transcript.message['id'], seq: transcript.message['seq'] });
    const contract = ProtocolContract.fromFile();
    expect([
      ...transcript.sent.flatMap((frame) => contract.clientFrameProblems(frame)),
      ...transcript.received.flatMap((frame) => contract.serverFrameProblems(frame)),
    ]).toEqual([]);
  });
});
