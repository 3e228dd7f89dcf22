/**
 * A chat client written as a frontend would write it, against the types generated from asyncapi.yaml only
 * (`npm run client-types -- chat-protocol.ts`): the e2e test generates them beside this file, compiles both with
 * strict TypeScript, and runs the client against the local stack. The root tsconfig leaves it out: its types
 * exist only in that test's folder.
 */
import type { AckFrame, ClientFrame, MessageFrame, ServerFrame, WelcomeFrame } from './chat-protocol.ts';

/** What the client sent and received, as the text on the wire, and the frames it was waiting for. */
export interface Transcript {
  readonly sent: readonly string[];
  readonly received: readonly string[];
  readonly welcome: WelcomeFrame;
  readonly message: MessageFrame;
  readonly ack: AckFrame;
}

/**
 * Connects to `url`, says hello and, once welcomed, sends `text` as a message with a client id; resolves when the
 * room's copy of that message and its ack have come back.
 */
export function chat(url: string, text: string): Promise<Transcript> {
  const clientMsgId = 'generated-types-1';
  const sent: string[] = [];
  const received: string[] = [];
  let welcome: WelcomeFrame | undefined;
  let message: MessageFrame | undefined;
  let ack: AckFrame | undefined;

  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const send = (frame: ClientFrame): void => {
      const data = typeof frame === 'string' ? frame : JSON.stringify(frame);
      sent.push(data);
      socket.send(data);
    };

    socket.addEventListener('open', () => send({ action: 'hello' }));
    socket.addEventListener('error', () => reject(new Error(`the WebSocket to ${url} failed`)));
    socket.addEventListener('close', () => reject(new Error('the server closed the connection before the ack')));
    socket.addEventListener('message', (event: MessageEvent<unknown>) => {
      if (typeof event.data !== 'string') return;
      received.push(event.data);
      const frame: ServerFrame = JSON.parse(event.data);
      switch (frame.type) {
        case 'welcome':
          welcome = frame;
          send({ action: 'sendmessage', text, clientMsgId });
          break;
        case 'message':
          if (frame.from === welcome?.connectionId && frame.text === text) message = frame;
          break;
        case 'ack':
          if (frame.clientMsgId === clientMsgId) ack = frame;
          break;
        case 'error':
          reject(new Error(`the server refused a frame: ${frame.code}: ${frame.message}`));
          break;
        default:
          // Presence and the rest: this client has nothing to show them on.
          break;
      }
      if (welcome !== undefined && message !== undefined && ack !== undefined) {
        resolve({ sent, received, welcome, message, ack });
        socket.close();
      }
    });
  });
}
