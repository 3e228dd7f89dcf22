/**
 * The local stack's service ports (dynalite, fauxqs, the emulator's Lambda API and @connections, the local IAM's
 * proxies) serve programs on this machine, never web pages: any page the developer opens can send requests to
 * 127.0.0.1, so each of these HTTP servers refuses, before its own listener sees it, every request a browser sends.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * The Host headers a request to a loopback server on `port` may carry. A page on another site can rebind its own
 * DNS name to 127.0.0.1 and then call the port as same-origin; such a request still names that site in Host.
 */
export function loopbackHosts(port: number): ReadonlySet<string> {
  const names = ['127.0.0.1', 'localhost', '[::1]'];
  return new Set([...names.map((name) => `${name}:${port}`), ...(port === 80 ? names : [])]);
}

/** Why a request to a loopback server on `port` comes from a web page, or undefined when it does not. */
export function webPageRequest(request: Pick<IncomingMessage, 'headers' | 'method'>, port: number): string | undefined {
  const { host, origin } = request.headers;
  if (!loopbackHosts(port).has(host?.toLowerCase() ?? ''))
    return `this port answers only 127.0.0.1:${port}, localhost:${port} and [::1]:${port}, not "${host ?? ''}"`;
  // Browsers send Origin with every cross-origin request and every POST, and no program here sends one.
  if (origin !== undefined) return `this port serves programs on this machine, not pages (Origin: ${origin})`;
  // Browsers that send no Origin (a plain GET of an <img> or a <script>) send Sec-Fetch-Site; Node's fetch does not.
  if (request.headers['sec-fetch-site'] !== undefined)
    return 'this port serves programs on this machine, not pages (Sec-Fetch-Site)';
  if (request.method === 'OPTIONS') return 'this port answers no CORS preflight';
  return undefined;
}

type Listener = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Puts a check before every request listener `server` has now (call it before it listens, after any other wrapping
 * of its listeners): a request from a web page is answered 403, and the server's own listeners never see it, so it
 * reads nothing, changes nothing and grants no origin anything.
 */
export function refuseWebPages(server: Server): void {
  // hapi hands requests with `Expect: 100-continue` to checkContinue listeners instead of request ones.
  for (const event of ['request', 'checkContinue'] as const) {
    const listeners = server.listeners(event) as Listener[];
    if (listeners.length === 0) continue;
    server.removeAllListeners(event);
    server.on(event, (request: IncomingMessage, response: ServerResponse) => {
      const address = server.address();
      const port = address === null || typeof address === 'string' ? 0 : address.port;
      const reason = webPageRequest(request, port);
      if (reason !== undefined) {
        response.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(reason);
        return;
      }
      for (const listener of listeners) listener(request, response);
    });
  }
}
