import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyOf, LoopbackServer } from '../../scripts/loopback-server.ts';

/**
 * What the fake `@connections` API does with every POST to one connection id:
 * - `healthy`: 200;
 * - `gone`: 410 with an empty body, as serverless-offline answers for a closed connection;
 * - `flaky`: 429 to the first POST of each frame, 200 to every later POST of the same frame;
 * - `failing`: 500 every time;
 * - `slow`: 200 after {@link SLOW_ANSWER_MS};
 * - `hanging`: never answers.
 */
export type Fate = 'healthy' | 'gone' | 'flaky' | 'failing' | 'slow' | 'hanging';

export const FATES: readonly Fate[] = ['healthy', 'gone', 'flaky', 'failing', 'slow', 'hanging'];

export const SLOW_ANSWER_MS = 150;

/** One POST as the fake saw it, with what it answered (`hang`: nothing). */
export interface ReceivedPost {
  readonly connectionId: string;
  readonly body: string;
  readonly answer: number | 'hang';
}

/** The faults the fake injected, by kind: every 410, 429 and 500 it answered, every slow answer and every hang. */
export interface InjectedFaults {
  gone410: number;
  throttled429: number;
  failed500: number;
  slow: number;
  hanging: number;
}

/**
 * A loopback stand-in for API Gateway's `@connections` API whose answers are set per connection id, so that a
 * fan-out through the real SDK client meets every kind of recipient at once. POSTs to an id with no fate are
 * answered 404 and kept apart in {@link unexpected}: nothing should ever post to an id the test did not create.
 */
export class FaultyConnectionsApi extends LoopbackServer {
  readonly posts: ReceivedPost[] = [];
  readonly unexpected: string[] = [];
  readonly injected: InjectedFaults = { gone410: 0, throttled429: 0, failed500: 0, slow: 0, hanging: 0 };
  readonly #fates = new Map<string, Fate>();
  /** The frames each flaky id has already been refused once. */
  readonly #throttledOnce = new Map<string, Set<string>>();
  readonly #open = new Set<ServerResponse>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor() {
    super('fake @connections API');
  }

  fate(connectionId: string, fate: Fate): this {
    this.#fates.set(connectionId, fate);
    return this;
  }

  fateOf(connectionId: string): Fate | undefined {
    return this.#fates.get(connectionId);
  }

  postsTo(connectionId: string): ReceivedPost[] {
    return this.posts.filter((post) => post.connectionId === connectionId);
  }

  override async stop(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    for (const response of this.#open) response.destroy();
    await super.stop();
  }

  protected override async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const received = await bodyOf(request);
    const match = /^\/@connections\/([^/?]+)$/.exec(request.url ?? '');
    const connectionId = match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
    const fate = connectionId === undefined ? undefined : this.#fates.get(connectionId);
    if (request.method !== 'POST' || connectionId === undefined || fate === undefined) {
      this.unexpected.push(`${request.method ?? '?'} ${request.url ?? '?'}`);
      response.writeHead(404).end();
      return;
    }
    const body = received.toString('utf8');
    const answer = this.#answerFor(connectionId, fate, body);
    this.posts.push({ connectionId, body, answer });
    if (answer === 'hang') {
      this.injected.hanging += 1;
      this.#open.add(response);
      response.once('close', () => this.#open.delete(response));
      return;
    }
    const reply = (): void => {
      if (answer === 200) response.writeHead(200).end();
      // API Gateway's own error bodies; 410 is empty, as serverless-offline sends it.
      else if (answer === 410) response.writeHead(410).end();
      else if (answer === 429) json(response, 429, 'LimitExceededException', 'Too Many Requests');
      else json(response, 500, 'InternalServerErrorException', 'Internal server error');
    };
    if (fate !== 'slow') {
      reply();
      return;
    }
    this.injected.slow += 1;
    this.#open.add(response);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#open.delete(response);
      reply();
    }, SLOW_ANSWER_MS);
    this.#timers.add(timer);
  }

  #answerFor(connectionId: string, fate: Fate, body: string): number | 'hang' {
    switch (fate) {
      case 'healthy':
      case 'slow':
        return 200;
      case 'gone':
        this.injected.gone410 += 1;
        return 410;
      case 'failing':
        this.injected.failed500 += 1;
        return 500;
      case 'hanging':
        return 'hang';
      case 'flaky': {
        const refused = this.#throttledOnce.get(connectionId) ?? new Set<string>();
        this.#throttledOnce.set(connectionId, refused);
        if (refused.has(body)) return 200;
        refused.add(body);
        this.injected.throttled429 += 1;
        return 429;
      }
    }
  }
}

function json(response: ServerResponse, status: number, errorType: string, message: string): void {
  response
    .writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': errorType })
    .end(JSON.stringify({ message }));
}
