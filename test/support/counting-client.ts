import type WebSocket from 'ws';
import { openSocket } from './chat-client.ts';
import { inPool } from './pool.ts';

/** A frame as the server sends it, loosely read. */
type Frame = Readonly<Record<string, unknown>>;

/**
 * A lean WebSocket client for rooms of thousands: it counts the copies of each message frame it receives by id and
 * keeps only the frames a test asks about (acks, pongs), so that thousands of them cost the test process little.
 */
export class CountingClient {
  /** Copies received of each message, by message id. */
  readonly copies = new Map<string, number>();
  /** The acks of this client's own messages. */
  readonly acks: Frame[] = [];
  /** Presence frames (single and batches) received. */
  presenceFrames = 0;
  #connectionId: string | undefined;
  readonly #socket: WebSocket;
  readonly #waiters = new Set<() => void>();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on('message', (data) => {
      let frame: Frame;
      try {
        frame = JSON.parse(String(data)) as Frame;
      } catch {
        return;
      }
      if (frame['type'] === 'message' && typeof frame['id'] === 'string')
        this.copies.set(frame['id'], (this.copies.get(frame['id']) ?? 0) + 1);
      else if (frame['type'] === 'ack') this.acks.push(frame);
      else if (frame['type'] === 'presence' || frame['type'] === 'presence_batch') this.presenceFrames += 1;
      else if (frame['type'] === 'pong' && typeof frame['connectionId'] === 'string')
        this.#connectionId = frame['connectionId'];
      for (const wake of [...this.#waiters]) wake();
    });
  }

  static async connect(url: string, timeoutMs = 15_000): Promise<CountingClient> {
    return new CountingClient(await openSocket(url, timeoutMs));
  }

  /**
   * Opens `count` clients with at most `inFlight` handshakes at a time (as bench/e2e.ts's connectAll does): each
   * $connect runs a function in the emulator, so thousands at once would only time out.
   */
  static async connectMany(
    url: string,
    count: number,
    inFlight: number,
  ): Promise<{ clients: CountingClient[]; failures: string[] }> {
    const failures: string[] = [];
    const opened = await inPool(
      Array.from({ length: count }, (_, i) => i),
      inFlight,
      async () => {
        try {
          return await CountingClient.connect(url);
        } catch (error) {
          failures.push(error instanceof Error ? error.message.replace(/ws:\/\/\S+/, 'the stack') : String(error));
          return undefined;
        }
      },
    );
    return { clients: opened.filter((client) => client !== undefined), failures };
  }

  /** This client's connection id, asked with a ping; `undefined` when no pong came within `timeoutMs`. */
  async connectionId(timeoutMs = 15_000): Promise<string | undefined> {
    if (this.#connectionId === undefined) {
      this.#socket.send(JSON.stringify({ action: 'ping' }));
      await this.#until(() => this.#connectionId !== undefined, timeoutMs);
    }
    return this.#connectionId;
  }

  /** Sends a chat message with a clientMsgId and resolves with its ack, or `undefined` after `timeoutMs`. */
  async post(text: string, clientMsgId: string, timeoutMs = 30_000): Promise<Frame | undefined> {
    const acked = (): Frame | undefined => this.acks.find((ack) => ack['clientMsgId'] === clientMsgId);
    this.#socket.send(JSON.stringify({ action: 'sendmessage', text, clientMsgId }));
    await this.#until(() => acked() !== undefined, timeoutMs);
    return acked();
  }

  #until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (!done()) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        resolve(false);
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  /** Drops the connection without a close handshake (the stack is gone, or going). */
  terminate(): void {
    this.#socket.terminate();
  }
}

/** How a set of clients received a set of messages: copies missing, and copies beyond the first. */
export function deliveryTally(
  clients: readonly CountingClient[],
  messageIds: readonly string[],
): {
  expected: number;
  received: number;
  lost: number;
  duplicates: number;
  clientsWithDuplicates: number;
  maxCopies: number;
} {
  let received = 0;
  let maxCopies = 0;
  let lost = 0;
  let duplicates = 0;
  let clientsWithDuplicates = 0;
  for (const client of clients) {
    let repeated = false;
    for (const id of messageIds) {
      const copies = client.copies.get(id) ?? 0;
      maxCopies = Math.max(maxCopies, copies);
      if (copies === 0) lost += 1;
      else received += 1;
      if (copies > 1) {
        duplicates += copies - 1;
        repeated = true;
      }
    }
    if (repeated) clientsWithDuplicates += 1;
  }
  return { expected: clients.length * messageIds.length, received, lost, duplicates, clientsWithDuplicates, maxCopies };
}
