import { backoffDelay } from './backoff.ts';
import type { SendLimiter } from './send-limiter.ts';

export type ConnectionState = 'connecting' | 'open' | 'waiting' | 'closed';

/** What became of a frame: sent, refused because the socket is not open, or refused by the send limiter. */
export type SendOutcome = 'sent' | 'closed' | 'limited';

/** A frame from the server, as far as the page needs to know its shape. */
export interface IncomingFrame {
  readonly type: string;
  readonly [field: string]: unknown;
}

export interface ChatConnectionOptions {
  /** Asked again before every attempt, so a reconnect carries the room and name in force at that moment. */
  readonly url: () => string;
  /** Called when a socket opens: the place for the handshake frame. */
  readonly onOpen: () => void;
  /** How often to ping while open, so API Gateway's 10-minute idle timeout never closes the socket. */
  readonly keepAliveMs: number;
  readonly backoffBaseMs: number;
  readonly backoffCapMs: number;
  /**
   * How long a socket must stay open before the backoff starts again from its first step: a server that
   * accepts and closes at once must not be reconnected to at the first step's pace forever.
   */
  readonly stableAfterMs: number;
  /** Every frame passes it; shared by every connection the page makes, so reconnecting refills nothing. */
  readonly limiter: SendLimiter;
  readonly onFrame: (frame: IncomingFrame) => void;
  readonly onState: (state: ConnectionState, detail: { retryInMs?: number; attempt: number }) => void;
}

/**
 * One WebSocket to the chat that reopens itself after any close, waiting a jittered, growing delay between
 * attempts, and pings while open. API Gateway closes idle connections after 10 minutes and every connection
 * after 2 hours, so a page that stays open relies on both. Nothing leaves faster than the send limiter allows.
 */
export class ChatConnection {
  readonly #options: ChatConnectionOptions;
  #socket: WebSocket | undefined;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #stableTimer: ReturnType<typeof setTimeout> | undefined;
  #keepAliveTimer: ReturnType<typeof setInterval> | undefined;
  /** Frames waiting for the limiter, at most one per purpose, each built when it finally goes. */
  readonly #pending = new Map<string, () => object>();
  #pendingTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(options: ChatConnectionOptions) {
    this.#options = options;
  }

  get isOpen(): boolean {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.#stopped = false;
    this.#open();
  }

  /** Closes the socket for good: no reconnect follows. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#stableTimer);
    clearInterval(this.#keepAliveTimer);
    this.#dropPending();
    this.#socket?.close(1000, 'page closed the chat');
    this.#socket = undefined;
    this.#options.onState('closed', { attempt: this.#attempt });
  }

  /** Sends a frame now, or says why not, so the caller can keep the person's text. */
  send(frame: object): SendOutcome {
    if (!this.isOpen) return 'closed';
    if (!this.#options.limiter.tryTake()) return 'limited';
    this.#socket?.send(JSON.stringify(frame));
    return 'sent';
  }

  /**
   * Sends a frame the page needs but no person is waiting on (handshake, roster, keep-alive) as soon as the
   * limiter allows, while this socket stays open. A second request for the same purpose replaces the first.
   */
  sendSoon(purpose: string, build: () => object): void {
    if (!this.isOpen) return;
    this.#pending.set(purpose, build);
    this.#flushPending();
  }

  #flushPending(): void {
    clearTimeout(this.#pendingTimer);
    this.#pendingTimer = undefined;
    for (const [purpose, build] of this.#pending) {
      if (!this.isOpen) {
        this.#dropPending();
        return;
      }
      if (!this.#options.limiter.tryTake()) break;
      this.#pending.delete(purpose);
      this.#socket?.send(JSON.stringify(build()));
    }
    if (this.#pending.size > 0) {
      this.#pendingTimer = setTimeout(() => this.#flushPending(), Math.max(1, this.#options.limiter.msUntilNext()));
    }
  }

  #dropPending(): void {
    clearTimeout(this.#pendingTimer);
    this.#pendingTimer = undefined;
    this.#pending.clear();
  }

  #open(): void {
    this.#options.onState('connecting', { attempt: this.#attempt });
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.#options.url());
    } catch {
      this.#scheduleRetry();
      return;
    }
    this.#socket = socket;
    socket.addEventListener('open', () => {
      this.#stableTimer = setTimeout(() => {
        this.#attempt = 0;
      }, this.#options.stableAfterMs);
      this.#options.onState('open', { attempt: this.#attempt });
      this.#options.onOpen();
      this.#keepAliveTimer = setInterval(
        () => this.sendSoon('ping', () => ({ action: 'ping' })),
        this.#options.keepAliveMs,
      );
    });
    socket.addEventListener('message', (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      let frame: unknown;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (typeof frame === 'object' && frame !== null && typeof (frame as { type?: unknown }).type === 'string') {
        this.#options.onFrame(frame as IncomingFrame);
      }
    });
    socket.addEventListener('close', () => {
      clearInterval(this.#keepAliveTimer);
      clearTimeout(this.#stableTimer);
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#dropPending();
      if (!this.#stopped) this.#scheduleRetry();
    });
  }

  #scheduleRetry(): void {
    const retryInMs = backoffDelay(this.#attempt, this.#options.backoffBaseMs, this.#options.backoffCapMs);
    this.#attempt += 1;
    this.#options.onState('waiting', { retryInMs, attempt: this.#attempt });
    this.#retryTimer = setTimeout(() => this.#open(), retryInMs);
  }
}
