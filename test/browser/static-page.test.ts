import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildWeb } from '../../scripts/build-web.ts';
import { type LaunchedBrowser, launchChromium, ScriptedChatServer } from '../support/browser.ts';

/** A deployed jwt stack's URL, as the build is given it; played by the test. */
const STACK = 'wss://abc123.execute-api.eu-west-1.amazonaws.com/prod';
/** Where the built folder is served from: any static host. */
const SITE = 'https://chat-site.test/';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl';
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
};

describe('the page built by npm run build:web, on a static host', () => {
  let out: string;
  let chromium: LaunchedBrowser;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'chat-static-'));
    await buildWeb({ outDir: out, websocketUrl: STACK });
    chromium = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await chromium?.close();
    await rm(out, { recursive: true, force: true });
  });

  it("connects to the stack its config.json names, signed in with the link's token, which leaves the address", async () => {
    const context = await chromium.browser.newContext();
    try {
      // The static host: every file from the built folder, nothing else.
      await context.route(`${SITE}**`, async (route) => {
        const path = new URL(route.request().url()).pathname.replace(/^\/$/, '/index.html');
        const body = await readFile(join(out, path)).catch(() => undefined);
        await route.fulfill(
          body === undefined
            ? { status: 404 }
            : { status: 200, body, contentType: TYPES[extname(path)] ?? 'application/octet-stream' },
        );
      });
      const stack = await ScriptedChatServer.route(context, (url) => url.host === new URL(STACK).host);
      const page = await context.newPage();

      await page.goto(`${SITE}?token=${TOKEN}&room=ops`);
      const connection = await stack.connection(0);
      await connection.frame((frame) => frame['action'] === 'hello');

      expect({
        server: `${connection.url.origin}${connection.url.pathname}`,
        token: connection.url.searchParams.get('token'),
        address: page.url(),
      }).toEqual({ server: STACK, token: TOKEN, address: `${SITE}?room=ops` });
    } finally {
      await context.close();
    }
  });
});
