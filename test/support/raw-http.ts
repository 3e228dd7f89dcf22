import { type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from 'node:http';

/** A request exactly as a test writes it, Host and Origin included. */
export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: OutgoingHttpHeaders;
  readonly body: string;
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Sends one request to 127.0.0.1:`port` with exactly its headers, on a connection of its own, and reads the answer. */
export function sendRaw(port: number, raw: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: '127.0.0.1', port, method: raw.method, path: raw.path, headers: raw.headers, agent: false },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.once('error', reject);
        answer.once('end', () =>
          resolve({ status: answer.statusCode ?? 0, headers: answer.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    outgoing.once('error', reject);
    outgoing.end(raw.body);
  });
}

/** The SigV4 header a page can forge as well as a program: the local stack's keys are public, signatures unchecked. */
export const signedBy = (accessKeyId: string, service: string): OutgoingHttpHeaders => ({
  authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20300101/us-east-1/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
  'x-amz-date': '20300101T000000Z',
});
