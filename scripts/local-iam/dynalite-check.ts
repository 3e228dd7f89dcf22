/**
 * IAM for the local stack's dynalite, in place: dynalite is an HTTP server in the process that started the stack,
 * so instead of a proxy in front of it (a second HTTP exchange for every DynamoDB request, in the emulator's
 * process), its request listener is wrapped to read the request, judge it, and either answer AWS's refusal or hand
 * dynalite the request as it came.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:net';
import { PassThrough } from 'node:stream';
import type { WireRequest } from './aws-calls.ts';
import { type Refusal, refuse, wireRequestOf } from './iam-proxy.ts';

type Listener = (request: IncomingMessage, response: ServerResponse) => void;

/** The request again, body and all, for a listener that reads it as a stream. */
function replayed(request: IncomingMessage, body: Buffer): IncomingMessage {
  const stream = new PassThrough();
  const copy = Object.assign(stream, {
    headers: request.headers,
    method: request.method,
    url: request.url,
    httpVersion: request.httpVersion,
    socket: request.socket,
  });
  stream.end(body);
  return copy as unknown as IncomingMessage;
}

/**
 * Wraps every request listener of `server` (a dynalite) so that `check` judges each request first. `check` answers
 * undefined for a request that may pass.
 */
export function checkDynaliteRequests(server: Server, check: (request: WireRequest) => Refusal | undefined): void {
  const listeners = server.listeners('request') as Listener[];
  server.removeAllListeners('request');
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const refusal = check(wireRequestOf(request, body));
      if (refusal !== undefined) {
        refuse(response, refusal);
        return;
      }
      for (const listener of listeners) listener(replayed(request, body), response);
    });
  });
}
