/**
 * A reverse proxy on loopback that holds each request a fixed time before forwarding it: the round trip a Lambda pays
 * to DynamoDB or to the @connections API in a region, added to a local emulator's. Requests are held side by side, as
 * the network would carry them; headers go on unchanged but Host, which names the target as a client of it would
 * (the local stack's ports answer only their own loopback Host; neither dynalite nor serverless-offline checks
 * signatures, so the Host the SDK signed need not be kept). A request's body is read while it is held; answers are streamed through.
 * Counts what it forwarded, by operation, and how long the target took to answer.
 *
 *   node bench/delay-proxy.ts --target http://127.0.0.1:8000 --delay 5 [--port 0]
 */
import { Agent, type ClientRequest, createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

export interface DelayProxy {
  /** The proxy's own endpoint, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  /** Requests forwarded so far, by operation (DynamoDB's X-Amz-Target action, else the method and first path segment). */
  counts(): Record<string, number>;
  /** How long the target took to answer, from forwarding to its response's headers, summed by operation. */
  answered(): Record<string, { count: number; totalMs: number }>;
  /** Requests the target could not be reached for (answered 502), by operation and error code. */
  errors(): Record<string, number>;
  /** Requests sent again because the target had closed the kept-alive socket they went out on. */
  resent(): number;
  stop(): Promise<void>;
}

/** DynamoDB names its operation in X-Amz-Target ("DynamoDB_20120810.Query"); @connections in the path. */
function operationOf(req: IncomingMessage): string {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') return target.slice(target.lastIndexOf('.') + 1);
  const segment = (req.url ?? '/').split('/').find((part) => part !== '') ?? '';
  return `${req.method ?? 'GET'} /${decodeURIComponent(segment)}`;
}

export interface DelayProxyOptions {
  /** 0 picks a free port. */
  readonly port?: number;
  /** Called as each request arrives, before it is held: `at` is `performance.now()`. */
  readonly onRequest?: (operation: string, at: number) => void;
  /**
   * `added` (the default): each request is held the delay, then the target's own time comes on top. `total`: each
   * request goes at once and its answer is held until the delay has passed since it arrived, so the round trip is
   * the delay or the target's time, whichever is longer, as a region's round trip includes its service's time.
   */
  readonly mode?: 'added' | 'total';
}

/** Starts a proxy to `target` (http://host:port) that holds each request `delayMs` before it goes. */
export async function startDelayProxy(
  target: string,
  delayMs: number,
  options: DelayProxyOptions = {},
): Promise<DelayProxy> {
  const to = new URL(target);
  const total = options.mode === 'total';
  // Kept alive and unbounded, as the SDK's own agents are in front of it: the proxy must not queue what it forwards.
  const agent = new Agent({ keepAlive: true });
  const counts = new Map<string, number>();
  const answered = new Map<string, { count: number; totalMs: number }>();
  const errors = new Map<string, number>();
  let resent = 0;
  const server: Server = createServer((req, res) => {
    const arrived = performance.now();
    const operation = operationOf(req);
    options.onRequest?.(operation, arrived);
    counts.set(operation, (counts.get(operation) ?? 0) + 1);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    let upstream: ClientRequest | undefined;
    let abandoned = false;
    // A caller that gave up (the SDK's own timeout) takes its upstream request down with it.
    res.on('close', () => {
      if (res.writableFinished) return;
      abandoned = true;
      upstream?.destroy();
    });
    const forward = (body: Buffer, attempt: number): void => {
      if (abandoned) return;
      const forwardedAt = performance.now();
      const sent = request(
        {
          host: to.hostname,
          port: to.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: to.host },
          agent,
        },
        (answer) => {
          const took = answered.get(operation) ?? { count: 0, totalMs: 0 };
          answered.set(operation, { count: took.count + 1, totalMs: took.totalMs + performance.now() - forwardedAt });
          const pass = (): void => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          };
          const hold = total ? delayMs - (performance.now() - arrived) : 0;
          if (hold > 0) {
            answer.pause();
            setTimeout(pass, hold);
          } else pass();
        },
      );
      upstream = sent;
      sent.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the target closed as this request went out: Node's documentation advises sending it
        // again, which the target never saw.
        if (!abandoned && sent.reusedSocket && error.code === 'ECONNRESET' && attempt === 1 && !res.headersSent) {
          resent += 1;
          forward(body, 2);
          return;
        }
        const what = `${operation} ${abandoned ? 'abandoned by the caller' : (error.code ?? error.message)}`;
        errors.set(what, (errors.get(what) ?? 0) + 1);
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      sent.end(body);
    };
    // The body (a few KB at most) is read while the request is held, so that it can be sent again.
    req.once('end', () => {
      const body = Buffer.concat(chunks);
      const wait = total ? 0 : delayMs - (performance.now() - arrived);
      if (wait > 0) setTimeout(() => forward(body, 1), wait);
      else forward(body, 1);
    });
  });
  // The SDK's agents keep idle sockets for reuse; a server that closed them first would make their next send fail.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(options.port ?? 0, '127.0.0.1', resolve),
  );
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    counts: () => Object.fromEntries(counts),
    answered: () => Object.fromEntries(answered),
    errors: () => Object.fromEntries(errors),
    resent: () => resent,
    stop() {
      agent.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      target: { type: 'string' },
      delay: { type: 'string', default: '5' },
      port: { type: 'string', default: '0' },
    },
  });
  if (values.target === undefined)
    throw new Error('usage: node bench/delay-proxy.ts --target URL [--delay MS] [--port N]');
  const proxy = await startDelayProxy(values.target, Number(values.delay), { port: Number(values.port) });
  console.log(`${proxy.url} -> ${values.target}, +${values.delay} ms a request (Ctrl-C stops)`);
  process.once('SIGINT', () => void proxy.stop().then(() => console.log(JSON.stringify(proxy.counts()))));
}
