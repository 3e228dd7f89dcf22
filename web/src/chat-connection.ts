import { backoffDelay } from './backoff.ts';

export type ConnectionState = 'connecting' | 'open' | 'waiting' | 'closed';

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
  readonly onFrame: (frame: IncomingFrame) => void;
  readonly onState: (state: ConnectionState, detail: { retryInMs?: number; attempt: number }) => void;
}

/**
 * One WebSocket to the chat that reopens itself after any close, waiting a jittered, growing delay between
 * attempts, and pings while open. API Gateway closes idle connections after 10 minutes and every connection
 * after 2 hours, so a page that stays open relies on both.
 */
export class ChatConnection {
  readonly #options: ChatConnectionOptions;
  #socket: WebSocket | undefined;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #keepAliveTimer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;

  constructor(options: ChatConnectionOptions) {
    this.#options = options;
  }

  start(): void {
    this.#stopped = false;
    this.#open();
  }

  /** Closes the socket for good: no reconnect follows. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#keepAliveTimer);
    this.#socket?.close(1000, 'page closed the chat');
    this.#socket = undefined;
    this.#options.onState('closed', { attempt: this.#attempt });
  }

  /** Sends a frame; returns false when the socket is not open, so the caller can keep the text. */
  send(frame: object): boolean {
    if (this.#socket?.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(JSON.stringify(frame));
    return true;
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
      this.#attempt = 0;
      this.#options.onState('open', { attempt: 0 });
      this.#options.onOpen();
      this.#keepAliveTimer = setInterval(() => this.send({ action: 'ping' }), this.#options.keepAliveMs);
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
      if (this.#socket === socket) this.#socket = undefined;
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
