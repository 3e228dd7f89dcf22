import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { ChatConnection, type ConnectionState } from '../../web/src/chat-connection.ts';
import { SendLimiter } from '../../web/src/send-limiter.ts';

/** A WebSocket whose every instance the test opens and closes by hand. */
class StubSocket extends EventTarget {
  static readonly OPEN = 1;
  static readonly opened: StubSocket[] = [];
  readonly url: string;
  readyState = 0;

  constructor(url: string) {
    super();
    this.url = url;
    StubSocket.opened.push(this);
  }

  accept(): void {
    this.readyState = StubSocket.OPEN;
    this.dispatchEvent(new Event('open'));
  }

  drop(): void {
    this.readyState = 3;
    this.dispatchEvent(new Event('close'));
  }

  send(): void {}

  close(): void {
    this.drop();
  }
}

const realWebSocket = globalThis.WebSocket;

function connection(states: Array<{ state: ConnectionState; attempt: number }>): ChatConnection {
  return new ChatConnection({
    url: () => 'ws://chat.test/',
    onOpen: () => undefined,
    keepAliveMs: 300_000,
    backoffBaseMs: 500,
    backoffCapMs: 30_000,
    stableAfterMs: 10_000,
    limiter: new SendLimiter(8, 1_000),
    onFrame: () => undefined,
    onState: (state, { attempt }) => states.push({ state, attempt }),
  });
}

/** Lets the newest socket open, then closes it after `openForMs`, and runs the retry timer that follows. */
function acceptThenDrop(openForMs: number): void {
  const socket = StubSocket.opened.at(-1);
  socket?.accept();
  jest.advanceTimersByTime(openForMs);
  socket?.drop();
  jest.advanceTimersByTime(30_000);
}

describe('ChatConnection reconnecting', () => {
  beforeEach(() => {
    jest.useFakeTimers();
    StubSocket.opened.length = 0;
    Object.assign(globalThis, { WebSocket: StubSocket });
  });

  afterEach(() => {
    jest.useRealTimers();
    Object.assign(globalThis, { WebSocket: realWebSocket });
  });

  it('keeps backing off from a server that accepts and closes at once, instead of starting over each time', () => {
    const states: Array<{ state: ConnectionState; attempt: number }> = [];
    const chat = connection(states);
    chat.start();

    for (let i = 0; i < 4; i += 1) acceptThenDrop(0);
    chat.stop();

    expect(states.filter((s) => s.state === 'waiting').map((s) => s.attempt)).toEqual([1, 2, 3, 4]);
  });

  it('starts the backoff over once a socket has stayed open long enough to count as working', () => {
    const states: Array<{ state: ConnectionState; attempt: number }> = [];
    const chat = connection(states);
    chat.start();

    acceptThenDrop(0);
    acceptThenDrop(0);
    acceptThenDrop(10_000);
    chat.stop();

    expect(states.filter((s) => s.state === 'waiting').map((s) => s.attempt)).toEqual([1, 2, 1]);
  });
});
