/**
 * `npm run build:web -- --ws <wss://… URL> [--out <folder>]`: the chat page as static files for any web host (S3 and
 * CloudFront, GitHub Pages, nginx): index.html, styles.css, app.js (web/src bundled by esbuild, as `npm start` serves
 * it) and config.json, which names the deployed stack's WebSocket URL (its `WebSocketUrl` output). Without --ws there
 * is no config.json, and the page connects where its `?ws=` link says.
 */
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from './local-stack.ts';
import { bundlePage } from './web-server.ts';

export const DEFAULT_WEB_OUT = join(projectRoot, 'web', 'dist');

export interface WebBuildOptions {
  /** The folder to write the files to; made when missing, and its files of the same names replaced. */
  readonly outDir: string;
  /** The WebSocket URL the page connects to (wss:// on AWS); none writes no config.json. */
  readonly websocketUrl?: string;
}

/** A WebSocket URL the page accepts as its server: ws:// or wss://, without credentials or query. */
export function checkedWebsocketUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--ws must be a ws:// or wss:// URL, got "${value}"`);
  }
  if ((url.protocol !== 'wss:' && url.protocol !== 'ws:') || url.username !== '' || url.password !== '' || url.search)
    throw new Error(`--ws must be a ws:// or wss:// URL without credentials or query, got "${value}"`);
  return value;
}

/** Writes the page's static files; returns their names. */
export async function buildWeb(options: WebBuildOptions): Promise<string[]> {
  const websocketUrl = options.websocketUrl === undefined ? undefined : checkedWebsocketUrl(options.websocketUrl);
  const app = await bundlePage({ sourcemap: false });
  await mkdir(options.outDir, { recursive: true });
  await Promise.all([
    copyFile(join(projectRoot, 'web', 'index.html'), join(options.outDir, 'index.html')),
    copyFile(join(projectRoot, 'web', 'styles.css'), join(options.outDir, 'styles.css')),
    writeFile(join(options.outDir, 'app.js'), app),
    // Without a server, an earlier build's config.json must not name one.
    websocketUrl === undefined
      ? rm(join(options.outDir, 'config.json'), { force: true })
      : writeFile(join(options.outDir, 'config.json'), `${JSON.stringify({ websocketUrl }, null, 2)}\n`),
  ]);
  return ['index.html', 'styles.css', 'app.js', ...(websocketUrl === undefined ? [] : ['config.json'])];
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { ws: { type: 'string' }, out: { type: 'string' } } });
  const outDir = values.out === undefined ? DEFAULT_WEB_OUT : resolve(values.out);
  try {
    const files = await buildWeb({ outDir, ...(values.ws === undefined ? {} : { websocketUrl: values.ws }) });
    console.log(`Wrote ${files.join(', ')} to ${outDir}`);
    if (values.ws === undefined)
      console.log('No --ws <wss:// URL>: no config.json; the page connects where its ?ws= link says.');
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
