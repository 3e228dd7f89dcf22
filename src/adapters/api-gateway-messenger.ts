import {
  type ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DeliveryError, type DeliveryFailureReason } from '../domain/errors.ts';
import type { ServerFrame } from '../domain/frames.ts';
import type { DeliveryOutcome, Messenger } from '../domain/messenger.ts';

export interface ApiGatewayMessengerOptions {
  /** Upper bound for one delivery, the SDK's own retries included. */
  readonly timeoutMs: number;
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

  constructor(client: ApiGatewayManagementApiClient, options: ApiGatewayMessengerOptions) {
    this.#client = client;
    this.#timeoutMs = options.timeoutMs;
  }

  async send(connectionId: string, frame: ServerFrame): Promise<DeliveryOutcome> {
    const abortSignal = AbortSignal.timeout(this.#timeoutMs);
    try {
      // The client's retry strategy retries 429 and 5xx with backoff; what reaches this catch outlived it.
      await this.#client.send(
        new PostToConnectionCommand({ ConnectionId: connectionId, Data: encoder.encode(JSON.stringify(frame)) }),
        { abortSignal },
      );
      return 'delivered';
    } catch (error) {
      if (isGone(error)) return 'gone';
      throw new DeliveryError(connectionId, reasonFor(error, abortSignal.aborted), { cause: error });
    }
  }
}
