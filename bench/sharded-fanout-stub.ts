/**
 * A loopback stand-in, in a process of its own, for what one fan-out worker talks to: DynamoDB's Query on the
 * room index (a full page of keys-only members, and a LastEvaluatedKey, after `QUERY_MS`), SQS's SendMessage
 * (the job's MD5, as the SDK checks it) and `@connections` (200 after about `POST_MS`). Prints its port, then
 * serves until killed.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { serveStub } from './stub-process.ts';

const QUERY_MS = Number(process.env['STUB_QUERY_MS'] ?? 60);
const POST_MS = Number(process.env['STUB_POST_MS'] ?? 20);
let pages = 0;

interface QueryRequest {
  readonly Limit?: number;
  readonly ExpressionAttributeValues?: Record<string, { S?: string }>;
}

function queryPage(request: QueryRequest): string {
  const limit = request.Limit ?? 1000;
  const room = request.ExpressionAttributeValues?.[':room']?.S ?? 'room#stage#0';
  const page = (pages += 1);
  const items = [];
  for (let i = 0; i < limit; i += 1) {
    const id = `P${page.toString(36).padStart(3, '0')}${i.toString(36).padStart(4, '0')}AbCdEfG=`;
    items.push({ pk: { S: `conn#${id}` }, gsi1sk: { S: `1893463200#${id}` } });
  }
  const last = items.at(-1);
  return JSON.stringify({
    Items: items,
    Count: items.length,
    ScannedCount: items.length,
    LastEvaluatedKey: {
      gsi1pk: { S: room },
      gsi1sk: last?.gsi1sk,
      pk: last?.pk,
      sk: { S: 'connection' },
    },
  });
}

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.once('end', () => {
    const target = request.headers['x-amz-target'];
    if (target === 'DynamoDB_20120810.Query') {
      const body = queryPage(JSON.parse(Buffer.concat(chunks).toString()) as QueryRequest);
      setTimeout(() => {
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        response.end(body);
      }, QUERY_MS);
      return;
    }
    if (target === 'AmazonSQS.SendMessage') {
      const { MessageBody } = JSON.parse(Buffer.concat(chunks).toString()) as { MessageBody: string };
      const md5 = createHash('md5').update(MessageBody).digest('hex');
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify({ MessageId: `m-${Date.now()}`, MD5OfMessageBody: md5 }));
      return;
    }
    setTimeout(
      () => {
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' });
        response.end();
      },
      POST_MS * (0.5 + Math.random()),
    );
  });
});
serveStub(server);
