import WebSocket from 'ws';
import { openSocket } from './chat-client.ts';

/** A frame as it arrived: parsed JSON, or the raw text when it was not JSON. */
export type WireFrame = Readonly<Record<string, unknown>> | { readonly unparsable: string };

export interface WireClientOptions {
  /**
   * Keep presence frames out of `received` (in `presence`): a test that compares each frame's answers with the
   * handler's must not count the room's presence, which the fan-out worker sends when its window ends.
   */
  readonly presenceApart?: boolean;
}

/**
 * A WebSocket client that sends text or binary frames exactly as given, keeps every frame it receives (even one
 * that is not JSON) and can wait for a count of them.
 */
export class WireClient {
  readonly received: WireFrame[] = [];
  /** Presence frames, kept apart when the client was asked to: they come from the fan-out worker, at its pace. */
  readonly presence: WireFrame[] = [];
  readonly #socket: WebSocket;
  readonly #waiters = new Set<() => void>();
  #closed = false;

  private constructor(socket: WebSocket, options: WireClientOptions) {
    this.#socket = socket;
    socket.on('message', (data) => {
      const text = String(data);
      let frame: WireFrame;
      try {
        const parsed: unknown = JSON.parse(text);
        frame =
          typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
            ? (parsed as Record<string, unknown>)
            : { unparsable: text };
      } catch {
        frame = { unparsable: text };
      }
      const type = 'type' in frame ? frame['type'] : undefined;
      if (options.presenceApart === true && (type === 'presence' || type === 'presence_batch')) {
        this.presence.push(frame);
      } else this.received.push(frame);
      for (const wake of [...this.#waiters]) wake();
    });
    socket.once('close', () => {
      this.#closed = true;
      for (const wake of [...this.#waiters]) wake();
    });
  }

  static async connect(url: string, timeoutMs = 10_000, options: WireClientOptions = {}): Promise<WireClient> {
    return new WireClient(await openSocket(url, timeoutMs), options);
  }

  get open(): boolean {
    return !this.#closed && this.#socket.readyState === WebSocket.OPEN;
  }

  sendText(text: string): void {
    this.#socket.send(text);
  }

  sendBinary(bytes: Uint8Array): void {
    this.#socket.send(bytes, { binary: true });
  }

  /** Resolves `true` once `count` frames have arrived in all, `false` after `timeoutMs` or when the socket closes. */
  waitForCount(count: number, timeoutMs = 10_000): Promise<boolean> {
    return this.#until(() => this.received.length >= count, timeoutMs);
  }

  /** The first received frame that matches, once it arrives; `undefined` after `timeoutMs` or when the socket closes. */
  async waitFor(match: (frame: WireFrame) => boolean, timeoutMs = 10_000): Promise<WireFrame | undefined> {
    return (await this.#until(() => this.received.some(match), timeoutMs)) ? this.received.find(match) : undefined;
  }

  #until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        if (!done() && !this.#closed) return false;
        this.#waiters.delete(wake);
        clearTimeout(timer);
        resolve(done());
        return true;
      };
      const wake = (): void => void check();
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        resolve(false);
      }, timeoutMs);
      this.#waiters.add(wake);
      check();
    });
  }

  close(): Promise<void> {
    if (this.#socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.close();
    });
  }
}
