import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { SQSClient } from '@aws-sdk/client-sqs';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { bodyOf, forward, LoopbackServer, type UpstreamAnswer } from '../../scripts/loopback-server.ts';
import { LOCAL_SQS_REGION } from '../../scripts/local-sqs.ts';

/**
 * The faults the proxy injects, as shares of all requests (each between 0 and 1, together at most 1):
 * - `throttle`: a 400 `RequestThrottled`, without forwarding;
 * - `serverError`: a 500 `InternalError`, without forwarding;
 * - `dropBefore`: the socket is destroyed before the request is forwarded, so nothing happened;
 * - `dropAfter`: the request is forwarded and done, then the socket is destroyed before the answer is sent, so the
 *   client cannot tell that it happened (a SendMessage the SDK then replays sends its message twice);
 * and, of each SendMessageBatch entry of a request that is forwarded, `refusedEntry`: SQS refuses that entry alone
 * (its own fault, `SenderFault: false`), which only the adapter retries, as the SDK sees a request that succeeded.
 */
export interface SqsFaultShares {
  readonly throttle: number;
  readonly serverError: number;
  readonly dropBefore: number;
  readonly dropAfter: number;
  readonly refusedEntry: number;
}

export type SqsFault = keyof SqsFaultShares;

/** The faults of a whole request, drawn in this order from one roll: their shares add up to at most 1. */
const REQUEST_FAULTS = ['throttle', 'serverError', 'dropBefore', 'dropAfter'] as const;

export const SQS_FAULTS: readonly SqsFault[] = [...REQUEST_FAULTS, 'refusedEntry'];

export type SqsProxyCounts = Record<SqsFault | 'forwarded', number>;

/** SQS's answers to a throttled request and to a failure of its own, in its JSON protocol. */
const ERRORS = {
  throttle: { status: 400, type: 'RequestThrottled', fault: 'Sender' },
  serverError: { status: 500, type: 'InternalError', fault: 'Receiver' },
} as const;

interface SendRequest {
  readonly MessageBody?: string;
  readonly DelaySeconds?: number;
  readonly Entries?: ReadonlyArray<{ readonly Id?: string; readonly MessageBody?: string; DelaySeconds?: number }>;
}

interface BatchAnswer {
  readonly Successful?: unknown[];
  readonly Failed?: unknown[];
}

/**
 * A loopback HTTP proxy in front of an SQS endpoint (fauxqs) that fails requests as `roll` decides, for an SQS
 * client whose SDK retries them. It also takes every message's `DelaySeconds` off the request before forwarding it,
 * and remembers it by the message's body (`delayOf`): the delay is the simulated clock's to keep, not fauxqs's
 * real one, so a message is receivable at once and its delay, as the adapter put it on the wire, is handed on.
 */
export class SqsFaultProxy extends LoopbackServer {
  readonly counts: SqsProxyCounts = {
    forwarded: 0,
    throttle: 0,
    serverError: 0,
    dropBefore: 0,
    dropAfter: 0,
    refusedEntry: 0,
  };
  /** Faults by operation, e.g. `SendMessageBatch dropAfter`. */
  readonly byOperation = new Map<string, number>();
  /** Draws a request's roll in [0, 1) from its operation and body, which picks its fate by the shares. */
  roll: (operation: string, body: Buffer) => number = () => 1;
  /** Hears of each fault injected, with the request's operation. */
  onFault: (operation: string, fault: SqsFault) => void = () => {};
  readonly #target: URL;
  readonly #shares: SqsFaultShares;
  readonly #delays = new Map<string, number>();
  readonly #upstream = new Agent({ keepAlive: true, maxSockets: 16 });

  constructor(targetEndpoint: string, shares: SqsFaultShares) {
    super('SQS fault proxy');
    if (REQUEST_FAULTS.reduce((sum, fault) => sum + shares[fault], 0) > 1 || shares.refusedEntry > 1)
      throw new RangeError('fault shares add up to more than 1');
    this.#target = new URL(targetEndpoint);
    this.#shares = shares;
  }

  /**
   * An SQS client whose requests go through this proxy, tried up to `maxAttempts` times by the SDK's own retry
   * strategy, with a fixed `retryDelayMs` between them instead of its jittered backoff (the run's clock is simulated).
   */
  client(maxAttempts: number, retryDelayMs = 0): SQSClient {
    return new SQSClient({
      endpoint: this.endpoint,
      region: LOCAL_SQS_REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      useQueueUrlAsEndpoint: false,
      retryStrategy: new ConfiguredRetryStrategy(maxAttempts, retryDelayMs),
    });
  }

  /** The DelaySeconds the last request that reached SQS with this message body gave it (0 without one). */
  delayOf(body: string): number | undefined {
    return this.#delays.get(body);
  }

  forgetDelays(): void {
    this.#delays.clear();
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.#upstream.destroy();
  }

  #draw(operation: string, body: Buffer): SqsFault | 'forward' {
    const roll = this.roll(operation, body);
    let bound = 0;
    for (const fault of REQUEST_FAULTS) {
      bound += this.#shares[fault];
      if (roll < bound) return fault;
    }
    return 'forward';
  }

  protected override async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await bodyOf(request);
    const operation = String(request.headers['x-amz-target'] ?? '?').replace(/^AmazonSQS\./, '');
    const fate = this.#draw(operation, body);
    if (fate !== 'forward') this.#count(operation, fate);
    if (fate === 'dropBefore') {
      request.socket.destroy();
      return;
    }
    if (fate === 'throttle' || fate === 'serverError') {
      const { status, type, fault } = ERRORS[fate];
      response
        .writeHead(status, {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-query-error': `${type};${fault}`,
          'x-amzn-requestid': `injected-${this.counts[fate]}`,
        })
        .end(JSON.stringify({ __type: `com.amazonaws.sqs#${type}`, message: 'injected' }));
      return;
    }
    const { forwarded, refused } = this.#undelayed(operation, body);
    let answer: UpstreamAnswer;
    try {
      answer =
        forwarded === undefined
          ? { status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: Buffer.from('{}') }
          : await forward(this.#upstream, this.#target, withLength(request, forwarded), forwarded);
    } catch {
      request.socket.destroy();
      return;
    }
    if (fate === 'dropAfter') {
      request.socket.destroy();
      return;
    }
    this.counts.forwarded += 1;
    if (refused.length > 0 && answer.status === 200) answer = withRefused(answer, refused);
    response.writeHead(answer.status, answer.headers).end(answer.body);
  }

  #count(operation: string, fault: SqsFault): void {
    this.counts[fault] += 1;
    this.onFault(operation, fault);
    const label = `${operation} ${fault}`;
    this.byOperation.set(label, (this.byOperation.get(label) ?? 0) + 1);
  }

  /**
   * The request to forward: without its messages' DelaySeconds, each noted by its body, and without the batch
   * entries refused (their ids), none left to forward when all are (fauxqs does not check signatures).
   */
  #undelayed(operation: string, body: Buffer): { forwarded: Buffer | undefined; refused: string[] } {
    if (operation !== 'SendMessage' && operation !== 'SendMessageBatch') return { forwarded: body, refused: [] };
    const { DelaySeconds, ...rest } = JSON.parse(body.toString('utf8')) as SendRequest;
    const note = (messageBody: string | undefined, delay: number | undefined): void => {
      if (messageBody !== undefined) this.#delays.set(messageBody, delay ?? 0);
    };
    note(rest.MessageBody, DelaySeconds);
    const refused: string[] = [];
    const entries = rest.Entries?.flatMap(({ DelaySeconds: delay, ...entry }) => {
      // Each entry's roll is the request's next one: the same for the same request sent as often in a step.
      if (this.roll(`${operation} entry`, body) < this.#shares.refusedEntry) {
        this.#count(operation, 'refusedEntry');
        refused.push(entry.Id ?? '?');
        return [];
      }
      note(entry.MessageBody, delay);
      return [entry];
    });
    if (entries?.length === 0) return { forwarded: undefined, refused };
    const forwarded = JSON.stringify(entries === undefined ? rest : { ...rest, Entries: entries });
    return { forwarded: Buffer.from(forwarded, 'utf8'), refused };
  }
}

/** The request with the length of the body it is forwarded with. */
function withLength(request: IncomingMessage, body: Buffer): IncomingMessage {
  request.headers['content-length'] = String(body.length);
  return request;
}

/** A SendMessageBatch answer that also lists `refused` as failed by SQS's own fault. */
function withRefused(answer: UpstreamAnswer, refused: readonly string[]): UpstreamAnswer {
  const batch = JSON.parse(answer.body.toString('utf8')) as BatchAnswer;
  const failed = refused.map((id) => ({ Id: id, SenderFault: false, Code: 'InternalError', Message: 'injected' }));
  const body = Buffer.from(
    JSON.stringify({ Successful: batch.Successful ?? [], Failed: [...(batch.Failed ?? []), ...failed] }),
    'utf8',
  );
  return { ...answer, headers: { ...answer.headers, 'content-length': String(body.length) }, body };
}
