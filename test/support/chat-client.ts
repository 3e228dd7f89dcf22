import WebSocket from 'ws';
import { checkClientFrame, checkServerFrame } from './protocol-contract.ts';

/** A frame as the server sends it; tests check its fields. */
export interface ReceivedFrame {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** One membership change, from a presence frame or a presence_batch. */
export interface ReceivedChange {
  readonly event: 'join' | 'leave' | 'rename';
  readonly room: string;
  readonly connectionId: string;
  readonly name: string;
  readonly previousName?: string;
  readonly rev: number;
}

/** Opens a WebSocket and resolves once its handshake completes; fails after `timeoutMs`. */
export function openSocket(url: string, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no WebSocket handshake with ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('open', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * A real WebSocket client that keeps every frame it receives and can wait for the next matching one. Every frame
 * it sends or receives is checked against asyncapi.yaml (see protocol-contract.ts).
 */
export class ChatClient {
  readonly received: ReceivedFrame[] = [];
  readonly #socket: WebSocket;
  readonly #waiters = new Set<() => void>();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on('message', (data) => {
      const text = data.toString();
      checkServerFrame(text, 'a test client received');
      this.received.push(JSON.parse(text) as ReceivedFrame);
      for (const wake of [...this.#waiters]) wake();
    });
  }

  static async connect(url: string, timeoutMs = 10_000): Promise<ChatClient> {
    return new ChatClient(await openSocket(url, timeoutMs));
  }

  send(frame: string | object): void {
    const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
    checkClientFrame(text, 'a test client sent');
    this.#socket.send(text);
  }

  /** Sends a frame as it is, unchecked: a deliberately malformed one, which asyncapi.yaml does not describe. */
  sendOffContract(frame: string): void {
    this.#socket.send(frame);
  }

  /** Waits until `count` received frames match, and returns them. */
  waitFor(match: (frame: ReceivedFrame) => boolean, count = 1, timeoutMs = 10_000): Promise<ReceivedFrame[]> {
    return this.#waitUntil(() => this.received.filter(match), count, timeoutMs, 'frame(s)');
  }

  /**
   * Every membership change this client was told of, in the order it was told, from single presence frames and
   * batches alike; each carries the room of its frame.
   */
  changes(): ReceivedChange[] {
    return this.received.flatMap((frame): ReceivedChange[] => {
      if (frame.type === 'presence') return [frame as unknown as ReceivedChange];
      if (frame.type !== 'presence_batch' || !Array.isArray(frame['changes'])) return [];
      return (frame['changes'] as ReceivedChange[]).map((change) => ({ ...change, room: frame['room'] as string }));
    });
  }

  /** Waits until `count` changes this client was told of match, and returns them. */
  waitForChange(match: (change: ReceivedChange) => boolean, count = 1, timeoutMs = 10_000): Promise<ReceivedChange[]> {
    return this.#waitUntil(() => this.changes().filter(match), count, timeoutMs, 'change(s)');
  }

  #waitUntil<T>(collect: () => T[], count: number, timeoutMs: number, what: string): Promise<T[]> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = collect();
        if (found.length < count) return false;
        this.#waiters.delete(wake);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const wake = (): void => void check();
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error(`waited ${timeoutMs} ms for ${count} ${what}; received ${JSON.stringify(this.received)}`));
      }, timeoutMs);
      this.#waiters.add(wake);
      check();
    });
  }

  /** Sends a chat message and waits for the server's copy of it, which tells this client its own connection id. */
  async whoAmI(): Promise<string> {
    const marker = `whoami-${Math.random().toString(36).slice(2)}`;
    this.send({ action: 'echo', text: marker });
    const [echo] = await this.waitFor((f) => f.type === 'echo' && f['text'] === marker);
    const from = echo?.['from'];
    if (typeof from !== 'string') throw new Error('echo frame carried no sender id');
    return from;
  }

  close(): Promise<void> {
    if (this.#socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.close();
    });
  }
}

/** Frames of one type. */
export const ofType =
  (type: string) =>
  (frame: ReceivedFrame): boolean =>
    frame.type === type;
