/**
 * A loopback stand-in for API Gateway's `@connections` API in a process of its own, so that its CPU is not
 * charged to the sender: every POST is read to its end and answered 200 with an empty body, as
 * PostToConnection answers a live connection. Prints its port on stdout, then serves until killed.
 */
import { createServer } from 'node:http';
import { serveStub } from './stub-process.ts';

const server = createServer((request, response) => {
  request.resume();
  request.once('end', () => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' });
    response.end();
  });
});
serveStub(server);
