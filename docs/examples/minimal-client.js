// A minimal chat client for the browser (and any runtime with the standard WebSocket API, Node.js 22 or later
// included): connect, say hello, send, and handle welcome, message, ack and error frames, dropping repeats by `id`
// and ordering by `seq`. It reconnects with backoff and asks for what it missed. The page in web/ does the same and
// more; test/e2e/minimal-client.test.ts runs this one against the local stack.

/**
 * @typedef {{ type: 'message', id: string, seq: number, room: string, from: string, name: string, text: string, sentAt: string }} Message
 * @typedef {{ onWelcome?: (frame: any) => void, onMessages?: (messages: Message[]) => void,
 *             onAck?: (frame: any) => void, onError?: (frame: any) => void }} Handlers
 */

/**
 * Opens a chat connection to `url` (e.g. `wss://<api>.execute-api.<region>.amazonaws.com/dev?room=kitchen&name=Ann`,
 * with `&token=<JWT>` when the chat requires sign-in).
 * @param {string} url
 * @param {Handlers} handlers
 */
export function openChat(url, handlers = {}) {
  /** @type {Map<string, Message>} every message once, by id */
  const messages = new Map();
  // Names this page, so that a resend from a new connection is known as the same message.
  const clientId = `p-${crypto.randomUUID().slice(0, 8)}`;
  let sent = 0;
  let retryMs = 500;
  let stopped = false;
  /** @type {WebSocket} */
  let socket;

  /** Messages in `seq` order: the order every member sees. */
  const ordered = () => [...messages.values()].sort((a, b) => a.seq - b.seq);

  /** The highest `seq` up to which this client has every message since its first: where a replay should start. */
  function afterSeq() {
    const seqs = ordered().map((message) => message.seq);
    if (seqs.length === 0) return undefined;
    let last = seqs[0];
    for (const seq of seqs.slice(1)) {
      if (seq !== last + 1) break;
      last = seq;
    }
    return last;
  }

  function connect() {
    socket = new WebSocket(url);
    socket.addEventListener('open', () => {
      retryMs = 500;
      const from = afterSeq();
      socket.send(JSON.stringify(from === undefined ? { action: 'hello' } : { action: 'hello', afterSeq: from }));
    });
    socket.addEventListener('message', (event) => {
      const frame = JSON.parse(String(event.data));
      if (frame.type === 'welcome') handlers.onWelcome?.(frame);
      else if (frame.type === 'message') {
        // A replay or a redelivery may repeat a message: keep the first copy.
        if (messages.has(frame.id)) return;
        messages.set(frame.id, frame);
        handlers.onMessages?.(ordered());
      } else if (frame.type === 'ack') handlers.onAck?.(frame);
      else if (frame.type === 'error') handlers.onError?.(frame);
    });
    socket.addEventListener('close', () => {
      if (stopped) return;
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30_000);
    });
  }
  connect();

  return {
    /** Sends a message; returns its clientMsgId, which its ack (or an error about it) names. */
    send(text) {
      sent += 1;
      const clientMsgId = `${clientId}.${sent}`;
      socket.send(JSON.stringify({ action: 'sendmessage', text, clientMsgId, clientId }));
      return clientMsgId;
    },
    /** Asks for the room's kept history again; the messages this client has already are dropped. */
    replay() {
      socket.send(JSON.stringify({ action: 'hello' }));
    },
    /** The messages so far, in `seq` order. */
    messages: ordered,
    close() {
      stopped = true;
      socket.close();
    },
  };
}
