import { Agent, createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import { seededRandom } from './seeded-random.ts';

/**
 * The faults the proxy injects, as shares of all requests (each between 0 and 1, together at most 1):
 * - `throttle`: a 400 `ProvisionedThroughputExceededException`, without forwarding;
 * - `dropBefore`: the socket is destroyed before the request is forwarded, so nothing happened;
 * - `dropAfter`: the request is forwarded and done, then the socket is destroyed before the answer is sent,
 *   so the client cannot tell that it happened.
 */
export interface FaultShares {
  readonly throttle: number;
  readonly dropBefore: number;
  readonly dropAfter: number;
}

export type DynamoDbFault = keyof FaultShares;

export interface ProxyCounts {
  /** Requests answered with DynamoDB's own answer. */
  forwarded: number;
  throttle: number;
  dropBefore: number;
  dropAfter: number;
}

const THROTTLED = JSON.stringify({
  __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
  message: 'injected',
});

/**
 * A loopback HTTP proxy in front of a DynamoDB endpoint that injects throttling and dropped connections with
 * a seeded generator: the same seed draws the same sequence of fates, request by request.
 */
export class DynamoDbFaultProxy {
  readonly counts: ProxyCounts = { forwarded: 0, throttle: 0, dropBefore: 0, dropAfter: 0 };
  /** Faults by DynamoDB operation and the kind of item it names, e.g. `UpdateItem room# dropAfter`. */
  readonly byOperation = new Map<string, number>();
  readonly #target: URL;
  readonly #shares: FaultShares;
  readonly #random: () => number;
  /** Faults to inject on the next request whose label starts with the key, whatever the generator draws. */
  readonly #scripted: Array<{ label: string; fault: DynamoDbFault }> = [];
  readonly #upstream = new Agent({ keepAlive: true, maxSockets: 16 });
  readonly #server: Server;
  #port = 0;

  constructor(targetEndpoint: string, shares: FaultShares, seed: number) {
    if (shares.throttle + shares.dropBefore + shares.dropAfter > 1) throw new RangeError('fault shares add up to more than 1');
    this.#target = new URL(targetEndpoint);
    this.#shares = shares;
    this.#random = seededRandom(seed);
    this.#server = createServer((request, response) => void this.#handle(request, response));
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get injected(): number {
    return this.counts.throttle + this.counts.dropBefore + this.counts.dropAfter;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('the fault proxy has no port');
    this.#port = address.port;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
    this.#upstream.destroy();
  }

  /** Injects `fault` into the next request labelled `label` or more (e.g. `DeleteItem conn#`), once. */
  failNext(label: string, fault: DynamoDbFault): this {
    this.#scripted.push({ label, fault });
    return this;
  }

  #draw(label: string): DynamoDbFault | 'forward' {
    const scripted = this.#scripted.findIndex((entry) => label.startsWith(entry.label));
    if (scripted >= 0) return this.#scripted.splice(scripted, 1)[0]?.fault ?? 'forward';
    const roll = this.#random();
    const { throttle, dropBefore, dropAfter } = this.#shares;
    if (roll < throttle) return 'throttle';
    if (roll < throttle + dropBefore) return 'dropBefore';
    if (roll < throttle + dropBefore + dropAfter) return 'dropAfter';
    return 'forward';
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const operation = operationOf(request, chunks);
    const fate = this.#draw(operation);
    if (fate !== 'forward') {
      this.counts[fate] += 1;
      const label = `${operation} ${fate}`;
      this.byOperation.set(label, (this.byOperation.get(label) ?? 0) + 1);
    }
    if (fate === 'dropBefore') {
      request.socket.destroy();
      return;
    }
    if (fate === 'throttle') {
      response
        .writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `injected-${this.injected}` })
        .end(THROTTLED);
      return;
    }
    let answer: { status: number; headers: IncomingMessage['headers']; body: Buffer };
    try {
      answer = await this.#forward(request, Buffer.concat(chunks));
    } catch {
      request.socket.destroy();
      return;
    }
    if (fate === 'dropAfter') {
      request.socket.destroy();
      return;
    }
    this.counts.forwarded += 1;
    response.writeHead(answer.status, answer.headers).end(answer.body);
  }

  #forward(request: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          agent: this.#upstream,
          host: this.#target.hostname,
          port: this.#target.port,
          method: request.method,
          path: request.url,
          headers: { ...request.headers, host: this.#target.host },
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.once('end', () => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }));
          answer.once('error', reject);
        },
      );
      upstream.once('error', reject);
      upstream.end(body);
    });
  }
}

interface KeyedRequest {
  readonly Key?: { readonly pk?: { readonly S?: string } };
  readonly Item?: { readonly pk?: { readonly S?: string } };
}

/** `PutItem conn#`: the operation (from X-Amz-Target) and the key prefix of the item it writes or reads, if any. */
function operationOf(request: IncomingMessage, chunks: readonly Buffer[]): string {
  const operation = String(request.headers['x-amz-target'] ?? '?').split('.').at(-1) ?? '?';
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as KeyedRequest;
    const pk = body.Key?.pk?.S ?? body.Item?.pk?.S;
    return pk === undefined ? operation : `${operation} ${pk.slice(0, pk.indexOf('#') + 1)}`;
  } catch {
    return operation;
  }
}
