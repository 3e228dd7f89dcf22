/** A chat message as every recipient receives it. */
export interface MessageFrame {
  readonly type: 'message' | 'echo';
  readonly id: string;
  readonly from: string;
  readonly text: string;
  readonly sentAt: string;
}

/** A refusal sent to the one connection whose frame was refused. */
export interface ErrorFrame {
  readonly type: 'error';
  readonly code: string;
  readonly message: string;
}

/** The answer to a keep-alive ping; tells the client its own connection id. */
export interface PongFrame {
  readonly type: 'pong';
  readonly connectionId: string;
}

/** Everything the server sends to a client. */
export type ServerFrame = MessageFrame | ErrorFrame | PongFrame;
