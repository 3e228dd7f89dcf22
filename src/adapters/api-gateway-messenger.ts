import { setMaxListeners } from 'node:events';
import { type ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DeliveryError, type DeliveryFailureReason } from '../domain/errors.ts';
import type { ServerFrame } from '../domain/frames.ts';
import type { DeliveryOutcome, Messenger } from '../domain/messenger.ts';

export interface ApiGatewayMessengerOptions {
  /**
   * Upper bound for one delivery, the SDK's own retries included: a send is aborted after at least this long
   * and at most a hundredth longer (sends started close together share one deadline).
   */
  readonly timeoutMs: number;
}

/** One abort signal and one timer for every send started within one slice of time. */
interface Deadline {
  readonly controller: AbortController;
  readonly startsBefore: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  pending: number;
}

interface ServiceErrorShape {
  readonly name?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

const encoder = new TextEncoder();

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = (error as ServiceErrorShape).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

function nameOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const name = (error as ServiceErrorShape).name;
  return typeof name === 'string' ? name : undefined;
}

function isGone(error: unknown): boolean {
  // serverless-offline answers 410 with an empty body, which the SDK names `Unknown`, not `GoneException`.
  return nameOf(error) === 'GoneException' || statusOf(error) === 410;
}

function reasonFor(error: unknown, timedOut: boolean): DeliveryFailureReason {
  if (timedOut && nameOf(error) === 'AbortError') return 'timeout';
  const status = statusOf(error);
  const name = nameOf(error);
  if (status === 429 || name === 'LimitExceededException' || name === 'ThrottlingException') return 'throttled';
  if (status !== undefined && status >= 400 && status < 500) return 'rejected';
  return 'unavailable';
}

/** Delivers frames through API Gateway's `@connections` API (PostToConnection). */
export class ApiGatewayMessenger implements Messenger {
  readonly #client: ApiGatewayManagementApiClient;
  readonly #timeoutMs: number;
  readonly #sliceMs: number;
  // A fan-out hands the same frame object to every recipient, and frames are never changed once built.
  readonly #encoded = new WeakMap<ServerFrame, Uint8Array>();
  #deadline: Deadline | undefined;
  #turn: Promise<void> | undefined;

  constructor(client: ApiGatewayManagementApiClient, options: ApiGatewayMessengerOptions) {
    this.#client = client;
    this.#timeoutMs = options.timeoutMs;
    // Short slices keep few listeners on each signal: Node's EventTarget scans them on every add and remove.
    this.#sliceMs = Math.max(1, Math.ceil(options.timeoutMs / 100));
  }

  async send(connectionId: string, frame: ServerFrame): Promise<DeliveryOutcome> {
    const deadline = this.#join();
    const abortSignal = deadline.controller.signal;
    try {
      await this.#nextTurn();
      // The client's retry strategy retries 429 and 5xx with backoff; what reaches this catch outlived it.
      await this.#client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: this.#encode(frame) }), {
        abortSignal,
      });
      return 'delivered';
    } catch (error) {
      if (isGone(error)) return 'gone';
      throw new DeliveryError(connectionId, reasonFor(error, abortSignal.aborted), { cause: error });
    } finally {
      this.#leave(deadline);
    }
  }

  /**
   * Resolves in the event loop's next check phase, once for every send asked for until then. A fan-out asks for its
   * next send as each response arrives, one socket callback at a time; started there, each send runs the SDK's whole
   * per-request path (middleware, signing, the HTTP client) alone and with cold CPU caches. Started together, the sends
   * step through that path side by side, each stage's code hot for the whole batch: 591 -> 265 µs of CPU per delivery
   * at 200 in flight in one run of bench/messenger.ts, for at most one turn of the loop's latency.
   */
  #nextTurn(): Promise<void> {
    this.#turn ??= new Promise((resolve) =>
      setImmediate(() => {
        this.#turn = undefined;
        resolve();
      }),
    );
    return this.#turn;
  }

  /** The frame's bytes, serialised and encoded once per frame object, not once per recipient. */
  #encode(frame: ServerFrame): Uint8Array {
    let bytes = this.#encoded.get(frame);
    if (bytes === undefined) {
      bytes = encoder.encode(JSON.stringify(frame));
      this.#encoded.set(frame, bytes);
    }
    return bytes;
  }

  /**
   * The deadline of the current slice of time, opened with the first send in it. One timer and one signal per slice
   * instead of AbortSignal.timeout() per send (1,054 -> 962 µs per delivery in bench/messenger.ts); every send is
   * aborted between timeoutMs and timeoutMs + sliceMs after it started.
   */
  #join(): Deadline {
    const now = performance.now();
    let deadline = this.#deadline;
    if (deadline === undefined || now >= deadline.startsBefore) {
      const controller = new AbortController();
      // Every send in flight in the slice listens to this one signal.
      setMaxListeners(0, controller.signal);
      deadline = { controller, startsBefore: now + this.#sliceMs, timer: undefined, pending: 0 };
      const opened = deadline;
      opened.timer = setTimeout(() => {
        opened.timer = undefined;
        opened.controller.abort();
      }, this.#timeoutMs + this.#sliceMs);
      this.#deadline = deadline;
    }
    deadline.pending += 1;
    return deadline;
  }

  /** Stops the slice's timer once its last send has settled, so no timer outlives the sends. */
  #leave(deadline: Deadline): void {
    deadline.pending -= 1;
    if (deadline.pending > 0 || deadline.timer === undefined) return;
    clearTimeout(deadline.timer);
    deadline.timer = undefined;
    if (this.#deadline === deadline) this.#deadline = undefined;
  }
}
