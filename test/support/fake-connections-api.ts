import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyOf, LoopbackServer } from '../../scripts/loopback-server.ts';

/**
 * How the fake answers a POST to one connection id: a status with an optional JSON body, error type (the
 * `x-amzn-errortype` header API Gateway names its errors by) and delay, or never.
 */
export type Answer = { status: number; body?: string; errorType?: string; afterMs?: number } | 'hang';

/**
 * A loopback stand-in for API Gateway's `@connections` API: POST /@connections/{id} answers 200 for live
 * ids, 410 with an empty body (as serverless-offline does) for others, a scripted sequence per id, or one
 * standing answer per id.
 */
export class FakeConnectionsApi extends LoopbackServer {
  readonly received: Array<{ connectionId: string; body: string }> = [];
  readonly #live = new Set<string>();
  readonly #scripts = new Map<string, Answer[]>();
  readonly #standing = new Map<string, Answer>();
  readonly #unanswered = new Set<ServerResponse>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor() {
    super('fake @connections API');
  }

  live(...ids: string[]): this {
    for (const id of ids) this.#live.add(id);
    return this;
  }

  /** Answers the next requests for `id` in this order, then falls back to live/gone. */
  script(id: string, ...answers: Answer[]): this {
    this.#scripts.set(id, answers);
    return this;
  }

  /** Answers every request for `id` this way, once its script (if any) has run out. */
  always(id: string, answer: Answer): this {
    this.#standing.set(id, answer);
    return this;
  }

  requestsFor(id: string): number {
    return this.received.filter((r) => r.connectionId === id).length;
  }

  override async stop(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    for (const response of this.#unanswered) response.destroy();
    await super.stop();
  }

  protected override async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await bodyOf(request);
    const match = /^\/@connections\/([^/?]+)$/.exec(request.url ?? '');
    if (request.method !== 'POST' || match?.[1] === undefined) {
      response.writeHead(404).end();
      return;
    }
    const connectionId = decodeURIComponent(match[1]);
    this.received.push({ connectionId, body: body.toString('utf8') });
    const answer = this.#scripts.get(connectionId)?.shift() ??
      this.#standing.get(connectionId) ?? { status: this.#live.has(connectionId) ? 200 : 410 };
    if (answer === 'hang') {
      this.#unanswered.add(response);
      return;
    }
    const reply = (): void => {
      const headers: Record<string, string> = {};
      if (answer.body) headers['content-type'] = 'application/json';
      if (answer.errorType !== undefined) headers['x-amzn-errortype'] = answer.errorType;
      response.writeHead(answer.status, headers).end(answer.body ?? '');
    };
    if (answer.afterMs === undefined) {
      reply();
      return;
    }
    this.#unanswered.add(response);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#unanswered.delete(response);
      reply();
    }, answer.afterMs);
    this.#timers.add(timer);
  }
}
