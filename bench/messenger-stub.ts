/**
 * A loopback stand-in for API Gateway's `@connections` API in a process of its own, so that its CPU is not
 * charged to the sender: every POST is read to its end and answered 200 with an empty body, as
 * PostToConnection answers a live connection. Prints its port on stdout, then serves until killed.
 */
import { createServer } from 'node:http';

const server = createServer((request, response) => {
  request.resume();
  request.once('end', () => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' });
    response.end();
  });
});
// Keep idle sockets open between measurements; the senders' keep-alive pools reuse them.
server.keepAliveTimeout = 60_000;
server.headersTimeout = 61_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  process.stdout.write(`${address.port}\n`);
});
process.once('SIGTERM', () => process.exit(0));
