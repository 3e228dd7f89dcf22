import {
  type Agent,
  createServer,
  type IncomingMessage,
  request as httpRequest,
  type Server,
  type ServerResponse,
} from 'node:http';
import { refuseWebPages } from './refuse-web-pages.ts';

/** An answer as an upstream endpoint sent it. */
export interface UpstreamAnswer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

/**
 * An HTTP server on a free loopback port: the base of every stand-in and proxy the tests put in front of an
 * SDK client (and of the local IAM's proxies), which answers each request in {@link handle}; requests from web pages
 * are refused before.
 */
export abstract class LoopbackServer {
  readonly #server: Server;
  readonly #name: string;
  #port = 0;

  /** `name` says which stand-in failed to start. */
  constructor(name: string) {
    this.#name = name;
    this.#server = createServer((request, response) => void this.handle(request, response));
    refuseWebPages(this.#server);
  }

  protected abstract handle(request: IncomingMessage, response: ServerResponse): Promise<void>;

  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error(`the ${this.#name} has no port`);
    this.#port = address.port;
    return this;
  }

  /** Closes every connection, kept-alive ones included, and resolves once the server is closed. */
  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** The whole body of a request. */
export async function bodyOf(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Sends a request on to `target`, as it came but for its Host, and resolves with the whole answer. */
export function forward(agent: Agent, target: URL, request: IncomingMessage, body: Buffer): Promise<UpstreamAnswer> {
  return new Promise((resolve, reject) => {
    const upstream = httpRequest(
      {
        agent,
        host: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        headers: { ...request.headers, host: target.host },
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.once('end', () =>
          resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }),
        );
        answer.once('error', reject);
      },
    );
    upstream.once('error', reject);
    upstream.end(body);
  });
}
