import type { Server } from 'node:http';

/**
 * Serves a loopback stub from a process of its own: keeps idle sockets open between measurements (the senders'
 * keep-alive pools reuse them), listens on a free port of 127.0.0.1, prints that port on stdout for the parent to
 * read, and exits on SIGTERM.
 */
export function serveStub(server: Server): void {
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 61_000;
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    process.stdout.write(`${address.port}\n`);
  });
  process.once('SIGTERM', () => process.exit(0));
}
