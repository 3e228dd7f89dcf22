/** Serves the chat page: static files from web/, the page's TypeScript bundled by esbuild, and config.json. */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { build } from 'esbuild';
import { projectRoot } from './local-stack.ts';
import { loopbackHosts } from './refuse-web-pages.ts';

export interface WebServerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** The WebSocket URL the page connects to unless told otherwise. */
  readonly websocketUrl: string;
  /** When the chat requires sign-in: a fresh development token for each page load. */
  readonly mintToken?: () => Promise<string>;
}

export interface WebServer {
  readonly url: string;
  stop(): Promise<void>;
}

const webRoot = join(projectRoot, 'web');

/** Bundles web/src/main.ts into one ES module, in memory; with its source map inline unless told not to. */
export async function bundlePage(options: { sourcemap?: boolean } = {}): Promise<string> {
  const result = await build({
    entryPoints: [join(webRoot, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    target: ['chrome120', 'firefox121', 'safari17'],
    minify: true,
    sourcemap: options.sourcemap === false ? false : 'inline',
    write: false,
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error('esbuild produced no bundle for the page');
  return output.text;
}

const SECURITY_HEADERS = {
  // Defence in depth: even if text were ever put into HTML, no inline script could run.
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const [app, html, css] = await Promise.all([
    bundlePage(),
    readFile(join(webRoot, 'index.html'), 'utf8'),
    readFile(join(webRoot, 'styles.css'), 'utf8'),
  ]);
  const files: Record<string, { type: string; body: string }> = {
    '/': { type: 'text/html; charset=utf-8', body: html },
    '/index.html': { type: 'text/html; charset=utf-8', body: html },
    '/styles.css': { type: 'text/css; charset=utf-8', body: css },
    '/app.js': { type: 'text/javascript; charset=utf-8', body: app },
  };
  const { mintToken } = options;

  const config = async (): Promise<string> =>
    JSON.stringify({ websocketUrl: options.websocketUrl, ...(mintToken ? { token: await mintToken() } : {}) });

  let allowedHosts: ReadonlySet<string> = new Set();

  const server: Server = createServer((request, response) => {
    // A page on another site can rebind its own DNS name to 127.0.0.1 and read config.json, with its development
    // token, as same-origin; its requests still name that site in Host.
    if (!allowedHosts.has(request.headers.host?.toLowerCase() ?? '')) {
      // 421 Misdirected Request: this server does not serve that name.
      response.writeHead(421, { 'content-type': 'text/plain' }).end('misdirected request');
      return;
    }
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/config.json') {
      config().then(
        (body) => response.writeHead(200, { 'content-type': 'application/json', ...SECURITY_HEADERS }).end(body),
        () => response.writeHead(500).end(),
      );
      return;
    }
    const file = files[path];
    if (file === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    response
      .writeHead(200, { 'content-type': file.type, ...SECURITY_HEADERS })
      .end(request.method === 'HEAD' ? undefined : file.body);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the web server has no port');
  allowedHosts = loopbackHosts(address.port);

  return {
    url: `http://127.0.0.1:${address.port}/`,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
