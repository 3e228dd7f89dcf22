import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { handshakeStatus } from '../support/handshake.ts';
import { projectRoot } from '../../scripts/local-stack.ts';

/** `npm start` (scripts/start.ts) as a user runs it, on free ports and with a bundle folder of the test's own. */
interface StartedCommand {
  readonly child: ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** Its exit code once it exited, or 'running' once it printed its banner, whichever comes first. */
  readonly outcome: Promise<number | 'running'>;
}

const buildFolder = join('.esbuild', `test-npm-start-${process.pid}`);
const started: ChildProcess[] = [];

function npmStart(env: Record<string, string>): StartedCommand {
  const child = spawn(process.execPath, [join(projectRoot, 'scripts', 'start.ts')], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      CHAT_WEB_PORT: '0',
      CHAT_WS_PORT: '0',
      CHAT_LAMBDA_PORT: '0',
      CHAT_HTTP_PORT: '0',
      CHAT_DYNAMODB_PORT: '0',
      CHAT_SQS_PORT: '0',
      CHAT_ESBUILD_DIR: buildFolder,
      CHAT_ESBUILD_WATCH: '.esbuild/no-watch',
      ...env,
    },
  });
  started.push(child);
  let output = '';
  const outcome = new Promise<number | 'running'>((resolve) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Press Ctrl-C to stop.')) resolve('running');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => resolve(code ?? -1));
  });
  return { child, output: () => output, outcome };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** A server that holds a port on 127.0.0.1, as another program would. */
async function holdPort(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no port');
  return address.port;
}

describe('npm start', () => {
  const held: Server[] = [];

  afterEach(async () => {
    await Promise.all(started.splice(0).map(stop));
    await Promise.all(held.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
    await rm(join(projectRoot, buildFolder), { recursive: true, force: true });
  });

  it.each(['CHAT_WS_PORT', 'CHAT_HTTP_PORT', 'CHAT_WEB_PORT'])(
    'refuses to start, naming the port and %s, when that port is taken',
    async (variable) => {
      const other = await holdPort();
      held.push(other);
      const port = portOf(other);

      const command = npmStart({ [variable]: String(port) });
      const outcome = await command.outcome;

      expect({ outcome, output: command.output() }).toEqual({
        outcome: 1,
        output: expect.stringContaining(`port ${port} (${variable}) is already in use`),
      });
    },
  );

  it('refuses to start when two variables name the same port', async () => {
    const command = npmStart({ CHAT_WS_PORT: '39999', CHAT_HTTP_PORT: '39999' });

    expect(await command.outcome).toBe(1);
    expect(command.output()).toContain('port 39999 is set for both CHAT_WS_PORT and CHAT_HTTP_PORT');
  });

  it('prints wscat commands that connect as printed in the jwt auth mode, each with a token', async () => {
    const command = npmStart({ CHAT_AUTH_MODE: 'jwt' });
    expect(await command.outcome).toBe('running');

    const urls = [...command.output().matchAll(/npx wscat -c "([^"]+)"/g)].map((match) => match[1] ?? '');
    const statuses = await Promise.all(urls.map((url) => handshakeStatus(url)));

    expect({ urls: urls.map((url) => /\/\?token=[\w.-]+$/.test(url)), statuses }).toEqual({
      urls: [true, true],
      statuses: [101, 101],
    });
  });
});
