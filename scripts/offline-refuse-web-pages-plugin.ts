/**
 * A serverless-offline companion (serverless.yml's `plugins:`): the emulator's HTTP servers answer programs on this
 * machine only. Its Lambda API (which the queue's event source invokes) and the HTTP routes of its WebSocket port
 * (@connections, which the handlers call) answer any origin's CORS preflight and take a plain POST from any page, so
 * every request a web page sends them is refused first (scripts/refuse-web-pages.ts). WebSocket handshakes are not
 * HTTP requests to these servers: the $connect handler's allow-list judges their Origin. Only `serverless offline`
 * runs it; packaging and deploying load it and do nothing.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { refuseWebPages } from './refuse-web-pages.ts';

const require = createRequire(import.meta.url);

interface HapiServer {
  readonly listener: Server;
  start(): Promise<void>;
}

export default class OfflineRefuseWebPagesPlugin {
  readonly hooks: Record<string, () => void>;
  #started = false;

  constructor() {
    // Before serverless-offline's own offline:start hooks create and start its servers.
    this.hooks = {
      'before:offline:start': () => this.#start(),
      'before:offline:start:init': () => this.#start(),
    };
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    // The emulator's own copy of hapi: its package's root, from its main module (src/index.js).
    const offlineRoot = dirname(dirname(require.resolve('serverless-offline')));
    const hapi = createRequire(join(offlineRoot, 'package.json'))('@hapi/hapi') as {
      server(options: object): HapiServer;
    };
    // hapi exports a factory; its servers' class, whose start() the emulator calls, is the prototype of one.
    const prototype = Object.getPrototypeOf(hapi.server({ autoListen: false })) as HapiServer;
    const start = prototype.start;
    prototype.start = function (this: HapiServer) {
      refuseWebPages(this.listener);
      return start.call(this);
    };
  }
}
