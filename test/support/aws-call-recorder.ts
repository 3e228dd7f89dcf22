import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AwsCall, CallDecoder } from '../../scripts/local-iam/aws-calls.ts';
import { bodyOf, forward, LoopbackServer } from '../../scripts/loopback-server.ts';

/** A canned answer instead of the real one, e.g. AWS's AccessDenied. */
export interface CannedAnswer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body: string;
}

/**
 * Collects the calls each Lambda function makes. Calls are attributed to the function whose work is running
 * (see {@link as}); calls made outside any function's work, such as a test arranging its data, are not kept.
 * Functions run one after another, so one set of proxies serves them all.
 */
export class AwsCallRecorder {
  readonly #calls = new Map<string, AwsCall[]>();
  #current: string | undefined;

  /** Runs `work` with every call it causes attributed to `functionName`. */
  async as<T>(functionName: string, work: () => Promise<T>): Promise<T> {
    if (this.#current !== undefined)
      throw new Error(`calls are already attributed to ${this.#current}; run functions one at a time`);
    this.#current = functionName;
    if (!this.#calls.has(functionName)) this.#calls.set(functionName, []);
    try {
      return await work();
    } finally {
      this.#current = undefined;
    }
  }

  record(calls: readonly AwsCall[]): void {
    if (this.#current === undefined) return;
    this.#calls.get(this.#current)?.push(...calls);
  }

  /** Every function that ran, even one that made no call, with the calls it made in order. */
  byFunction(): ReadonlyMap<string, readonly AwsCall[]> {
    return this.#calls;
  }
}

/**
 * A loopback HTTP proxy in front of a service endpoint (dynalite, a fake @connections API, a local queue)
 * that records what goes over the wire: the SDK clients under test point at it instead of the endpoint.
 */
export class RecordingProxy extends LoopbackServer {
  readonly #target: URL;
  readonly #decode: CallDecoder;
  readonly #recorder: AwsCallRecorder;
  readonly #canned: Array<{ action: string; answer: CannedAnswer }> = [];
  readonly #upstream = new Agent({ keepAlive: true, maxSockets: 32 });

  constructor(targetEndpoint: string, decode: CallDecoder, recorder: AwsCallRecorder) {
    super('recording proxy');
    this.#target = new URL(targetEndpoint);
    this.#decode = decode;
    this.#recorder = recorder;
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.#upstream.destroy();
  }

  /** Answers the next request that makes `action` with `answer` instead of forwarding it; it is still recorded. */
  answerNext(action: string, answer: CannedAnswer): this {
    this.#canned.push({ action, answer });
    return this;
  }

  protected override async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await bodyOf(request);
    const calls = this.#decode({
      method: request.method ?? 'GET',
      path: request.url ?? '/',
      headers: request.headers,
      body,
    });
    this.#recorder.record(calls);
    const canned = this.#canned.findIndex(({ action }) => calls.some((call) => call.action === action));
    const [answer] = canned >= 0 ? this.#canned.splice(canned, 1).map((entry) => entry.answer) : [];
    if (answer !== undefined) {
      response.writeHead(answer.status, answer.headers ?? {}).end(answer.body);
      return;
    }
    try {
      const answer = await forward(this.#upstream, this.#target, request, body);
      response.writeHead(answer.status, answer.headers).end(answer.body);
    } catch {
      request.socket.destroy();
    }
  }
}

/** AWS's answer to a DynamoDB call the caller's role does not allow. */
export const DYNAMODB_ACCESS_DENIED: CannedAnswer = {
  status: 400,
  headers: { 'content-type': 'application/x-amz-json-1.0' },
  body: JSON.stringify({
    __type: 'com.amazon.coral.service#AccessDeniedException',
    message: 'injected: not authorized to perform this action',
  }),
};
