import type { ConnectionRepository } from './connection-repository.ts';
import { DeliveryError, type DeliveryFailureReason } from './errors.ts';
import type { ErrorFrame, MessageFrame } from './frames.ts';
import type { DeliveryOutcome, Messenger } from './messenger.ts';
import { runBounded } from './run-bounded.ts';

/** API Gateway's hard cap on a WebSocket connection's life, plus a margin for clock skew and late $disconnects. */
export const CONNECTION_LIFETIME_MS = 2 * 60 * 60 * 1000 + 15 * 60 * 1000;

/** At most this many failures are itemised in a report; the counts are always complete. */
const MAX_REPORTED_FAILURES = 20;

export interface ChatServiceOptions {
  readonly connections: ConnectionRepository;
  readonly messenger: Messenger;
  /** How many deliveries of one broadcast may be in flight at once. */
  readonly concurrency: number;
  readonly now?: () => Date;
  readonly newId?: () => string;
}

export interface DeliveryFailure {
  readonly connectionId: string;
  readonly reason: DeliveryFailureReason | 'remove_failed' | 'unexpected';
}

/** What one broadcast did: every recipient listed is counted in exactly one of delivered, gone and failed. */
export interface BroadcastReport {
  readonly messageId: string;
  readonly recipients: number;
  readonly delivered: number;
  readonly gone: number;
  /** Gone connections whose rows were deleted; lower than `gone` only when a delete failed. */
  readonly removed: number;
  readonly failed: number;
  readonly failures: readonly DeliveryFailure[];
}

/** The chat rules: who is connected, and who receives what. */
export class ChatService {
  readonly #connections: ConnectionRepository;
  readonly #messenger: Messenger;
  readonly #concurrency: number;
  readonly #now: () => Date;
  readonly #newId: () => string;

  constructor(options: ChatServiceOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
    }
    this.#connections = options.connections;
    this.#messenger = options.messenger;
    this.#concurrency = options.concurrency;
    this.#now = options.now ?? (() => new Date());
    this.#newId = options.newId ?? (() => globalThis.crypto.randomUUID());
  }

  async connect(connectionId: string): Promise<void> {
    const connectedAt = this.#now();
    const expiresAt = new Date(connectedAt.getTime() + CONNECTION_LIFETIME_MS);
    await this.#connections.save({ id: connectionId, connectedAt, expiresAt });
  }

  async disconnect(connectionId: string): Promise<void> {
    await this.#connections.remove(connectionId);
  }

  /** Sends the text back to its sender only. A gone sender is removed like any other gone connection. */
  async echo(senderId: string, text: string): Promise<MessageFrame> {
    const frame = this.#message('echo', senderId, text);
    const outcome = await this.#messenger.send(senderId, frame);
    if (outcome === 'gone') await this.#connections.remove(senderId);
    return frame;
  }

  /**
   * Sends the text to every stored connection, the sender included, so that every client shows the same
   * order. One failing recipient never stops the others; only recipients reported gone are removed.
   */
  async broadcast(senderId: string, text: string): Promise<BroadcastReport> {
    const frame = this.#message('message', senderId, text);
    let recipients = 0;
    let delivered = 0;
    let gone = 0;
    let removed = 0;
    let failed = 0;
    const failures: DeliveryFailure[] = [];
    const fail = (failure: DeliveryFailure): void => {
      if (failures.length < MAX_REPORTED_FAILURES) failures.push(failure);
    };

    await runBounded(this.#connections.list(), this.#concurrency, async (recipientId) => {
      recipients += 1;
      let outcome;
      try {
        outcome = await this.#messenger.send(recipientId, frame);
      } catch (error) {
        failed += 1;
        fail({ connectionId: recipientId, reason: error instanceof DeliveryError ? error.reason : 'unexpected' });
        return;
      }
      if (outcome === 'delivered') {
        delivered += 1;
        return;
      }
      gone += 1;
      try {
        await this.#connections.remove(recipientId);
        removed += 1;
      } catch {
        fail({ connectionId: recipientId, reason: 'remove_failed' });
      }
    });

    return { messageId: frame.id, recipients, delivered, gone, removed, failed, failures };
  }

  /** Answers a keep-alive ping with the caller's own connection id, so a client can tell its messages apart. */
  async pong(connectionId: string): Promise<DeliveryOutcome> {
    const outcome = await this.#messenger.send(connectionId, { type: 'pong', connectionId });
    if (outcome === 'gone') await this.#connections.remove(connectionId);
    return outcome;
  }

  /** Tells one connection why its frame was refused. Returns what happened to that notice. */
  async reject(connectionId: string, code: string, message: string): Promise<DeliveryOutcome> {
    const frame: ErrorFrame = { type: 'error', code, message };
    const outcome = await this.#messenger.send(connectionId, frame);
    if (outcome === 'gone') await this.#connections.remove(connectionId);
    return outcome;
  }

  #message(type: MessageFrame['type'], from: string, text: string): MessageFrame {
    return { type, id: this.#newId(), from, text, sentAt: this.#now().toISOString() };
  }
}
