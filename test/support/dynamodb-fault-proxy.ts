import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterAll, beforeAll } from '@jest/globals';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { bodyOf, forward, LoopbackServer, type UpstreamAnswer } from '../../scripts/loopback-server.ts';
import { type DynamoDbTarget, startDynaliteTarget } from './dynamodb.ts';
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

/** No fault drawn at random: only those a test scripts with `failNext` are injected. */
export const SCRIPTED_FAULTS_ONLY: FaultShares = { throttle: 0, dropBefore: 0, dropAfter: 0 };

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
export class DynamoDbFaultProxy extends LoopbackServer {
  readonly counts: ProxyCounts = { forwarded: 0, throttle: 0, dropBefore: 0, dropAfter: 0 };
  /** Faults by DynamoDB operation and the kind of item it names, e.g. `UpdateItem room# dropAfter`. */
  readonly byOperation = new Map<string, number>();
  readonly #target: URL;
  readonly #shares: FaultShares;
  /**
   * Draws a request's roll in [0, 1), which picks its fate by the shares: by default the seeded generator, in
   * request order. A caller may draw by the request instead (its label and body), so that concurrent requests
   * whose order on the wire varies keep their fates.
   */
  roll: (label: string, body: Buffer) => number;
  /** Hears of each fault injected, with the request's label. */
  onFault: (label: string, fault: DynamoDbFault) => void = () => {};
  /** Faults to inject on the next request whose label starts with the key, whatever the generator draws. */
  readonly #scripted: Array<{ label: string; fault: DynamoDbFault }> = [];
  readonly #upstream = new Agent({ keepAlive: true, maxSockets: 16 });

  constructor(targetEndpoint: string, shares: FaultShares, seed: number) {
    super('fault proxy');
    if (shares.throttle + shares.dropBefore + shares.dropAfter > 1)
      throw new RangeError('fault shares add up to more than 1');
    this.#target = new URL(targetEndpoint);
    this.#shares = shares;
    const random = seededRandom(seed);
    this.roll = () => random();
  }

  /**
   * A document client whose requests go through this proxy, retrying each up to `maxAttempts` times as the SDK
   * does. `retryDelayMs` replaces the SDK's jittered backoff (up to a second per throttle) by a fixed pause, for a
   * test on a simulated clock: the same retries, decided by the SDK's own strategy, without the wall-clock wait.
   */
  documentClient(maxAttempts: number, options: { retryDelayMs?: number } = {}): DynamoDBDocumentClient {
    const { retryDelayMs } = options;
    return DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: this.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        ...(retryDelayMs === undefined
          ? { maxAttempts }
          : { retryStrategy: new ConfiguredRetryStrategy(maxAttempts, retryDelayMs) }),
      }),
    );
  }

  get injected(): number {
    return this.counts.throttle + this.counts.dropBefore + this.counts.dropAfter;
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.#upstream.destroy();
  }

  /** Injects `fault` into the next request labelled `label` or more (e.g. `DeleteItem conn#`), once. */
  failNext(label: string, fault: DynamoDbFault): this {
    this.#scripted.push({ label, fault });
    return this;
  }

  /**
   * Injects `fault` into the `index`-th request from now (0: the next one) and, with `times` above 1, into as many
   * requests after it: with `times` at the client's attempts, the request that is tried then fails for good.
   */
  failAt(index: number, fault: DynamoDbFault, times = 1): this {
    this.#numbered = { at: this.#seen + index, fault, times };
    return this;
  }

  /** The labels of the requests seen so far, in order (each attempt counted). */
  readonly seen: string[] = [];
  #seen = 0;
  #numbered: { at: number; fault: DynamoDbFault; times: number } | undefined;

  #draw(label: string, body: Buffer): DynamoDbFault | 'forward' {
    const number = this.#seen;
    this.#seen += 1;
    this.seen.push(label);
    const numbered = this.#numbered;
    if (numbered !== undefined && number >= numbered.at && number < numbered.at + numbered.times) return numbered.fault;
    const scripted = this.#scripted.findIndex((entry) => label.startsWith(entry.label));
    if (scripted >= 0) return this.#scripted.splice(scripted, 1)[0]?.fault ?? 'forward';
    const roll = this.roll(label, body);
    const { throttle, dropBefore, dropAfter } = this.#shares;
    if (roll < throttle) return 'throttle';
    if (roll < throttle + dropBefore) return 'dropBefore';
    if (roll < throttle + dropBefore + dropAfter) return 'dropAfter';
    return 'forward';
  }

  protected override async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await bodyOf(request);
    const operation = operationOf(request, body);
    const fate = this.#draw(operation, body);
    if (fate !== 'forward') {
      this.counts[fate] += 1;
      this.onFault(operation, fate);
      const label = `${operation} ${fate}`;
      this.byOperation.set(label, (this.byOperation.get(label) ?? 0) + 1);
    }
    if (fate === 'dropBefore') {
      request.socket.destroy();
      return;
    }
    if (fate === 'throttle') {
      response
        .writeHead(400, {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-requestid': `injected-${this.injected}`,
        })
        .end(THROTTLED);
      return;
    }
    let answer: UpstreamAnswer;
    try {
      answer = await forward(this.#upstream, this.#target, request, body);
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
}

interface Keyed {
  readonly Key?: { readonly pk?: { readonly S?: string } };
  readonly Item?: { readonly pk?: { readonly S?: string } };
}

interface KeyedRequest extends Keyed {
  readonly IndexName?: string;
  readonly ExpressionAttributeValues?: Record<string, { readonly S?: string } | undefined>;
  /** A transaction is labelled by its first item, the connection's in the chat's. */
  readonly TransactItems?: ReadonlyArray<{ readonly Put?: Keyed; readonly Update?: Keyed; readonly Delete?: Keyed }>;
}

/** `PutItem conn#`: the operation (from X-Amz-Target) and the key prefix of the item it writes or reads, if any. */
function operationOf(request: IncomingMessage, body: Buffer): string {
  const operation =
    String(request.headers['x-amz-target'] ?? '?')
      .split('.')
      .at(-1) ?? '?';
  try {
    const keyed = JSON.parse(body.toString('utf8')) as KeyedRequest;
    const [first] = keyed.TransactItems ?? [];
    const item = first?.Put ?? first?.Update ?? first?.Delete;
    const pk =
      keyed.Key?.pk?.S ??
      keyed.Item?.pk?.S ??
      item?.Key?.pk?.S ??
      item?.Item?.pk?.S ??
      (keyed.IndexName !== undefined ? 'index#' : keyed.ExpressionAttributeValues?.[':pk']?.S);
    return pk === undefined ? operation : `${operation} ${pk.slice(0, pk.indexOf('#') + 1)}`;
  } catch {
    return operation;
  }
}

/** dynalite behind a fault proxy that injects only the faults a test scripts, and a client through it. */
export interface ScriptedFaults {
  readonly target: DynamoDbTarget;
  readonly proxy: DynamoDbFaultProxy;
  /** Retries each request up to the attempts asked for, as the SDK does. */
  readonly client: DynamoDBDocumentClient;
}

/**
 * Starts dynalite and a scripted fault proxy before a file's tests and stops them after; the returned object
 * holds them once started.
 */
export function scriptedFaultsOnDynalite(seed: number, attempts: number): ScriptedFaults {
  const started: { target?: DynamoDbTarget; proxy?: DynamoDbFaultProxy; client?: DynamoDBDocumentClient } = {};
  beforeAll(async () => {
    started.target = await startDynaliteTarget();
    started.proxy = await new DynamoDbFaultProxy(started.target.endpoint, SCRIPTED_FAULTS_ONLY, seed).start();
    started.client = started.proxy.documentClient(attempts);
  }, 60_000);
  afterAll(async () => {
    started.client?.destroy();
    await started.proxy?.stop();
    await started.target?.stop();
  });
  const get = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('dynalite and its fault proxy have not started');
    return value;
  };
  return {
    get target() {
      return get(started.target);
    },
    get proxy() {
      return get(started.proxy);
    },
    get client() {
      return get(started.client);
    },
  };
}
