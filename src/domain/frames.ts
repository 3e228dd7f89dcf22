import type { PresenceChange } from './presence.ts';

/** A chat message as every member of its room receives it, and as the room's history keeps it. */
export interface ChatMessage {
  readonly type: 'message';
  readonly id: string;
  /** Position in the room's history: later messages have higher numbers, so every client shows one order. */
  readonly seq: number;
  readonly room: string;
  /** The sender's connection id. */
  readonly from: string;
  /** The sender's display name when it sent the message. */
  readonly name: string;
  /** The sender's verified user id, when the chat authenticates its users. */
  readonly userId?: string;
  readonly text: string;
  readonly sentAt: string;
}

/** A message sent back to its sender only. */
export interface EchoFrame {
  readonly type: 'echo';
  readonly id: string;
  readonly from: string;
  readonly text: string;
  readonly sentAt: string;
}

/**
 * Sent to a room when one member joined, left or changed name, and nothing else changed in the room during
 * that presence window (rooms of at most the big-room size only); otherwise a {@link PresenceBatchFrame}.
 */
export interface PresenceFrame extends PresenceChange {
  readonly type: 'presence';
  readonly room: string;
  /** How many members the room has after the change. */
  readonly members: number;
}

/**
 * A room's membership changes of one presence window, oldest first, in one frame. `joined`, `left` and
 * `renamed` count every change of the window; `changes` lists them all (`complete`), or in a big room or
 * a very busy window only the first few: then keep a member count, not a roster, or ask `who`.
 */
export interface PresenceBatchFrame {
  readonly type: 'presence_batch';
  readonly room: string;
  /** How many members the room has after these changes. */
  readonly members: number;
  readonly joined: number;
  readonly left: number;
  readonly renamed: number;
  readonly changes: readonly PresenceChange[];
  /** Whether `changes` lists every change counted. */
  readonly complete: boolean;
}

/** One page of a room's members, sent to the connection that asked (`who`). */
export interface RosterFrame {
  readonly type: 'roster';
  readonly room: string;
  readonly members: ReadonlyArray<{
    readonly connectionId: string;
    readonly name: string;
    /** The member's verified user id, when the chat authenticates its users. */
    readonly userId?: string;
    readonly rev: number;
  }>;
  /** How many members the room has, as its joins and leaves counted them. */
  readonly count: number;
  /** Send `who` with this cursor for the next page; absent on the last page. */
  readonly next?: string;
}

/** Tells a connection who it is and where: the answer to `hello` and `join`, before the history replay. */
export interface WelcomeFrame {
  readonly type: 'welcome';
  readonly connectionId: string;
  readonly room: string;
  readonly name: string;
  /** How many history messages follow this frame. */
  readonly replay: number;
  /** The connection's revision: of two welcomes (racing joins), the one with the higher `rev` is current. */
  readonly rev: number;
  /** How many members the room has, this connection included. */
  readonly members: number;
}

/** Confirms to a sender that its message was stored and fanned out. */
export interface AckFrame {
  readonly type: 'ack';
  readonly clientMsgId: string;
  readonly id: string;
  readonly seq: number;
  readonly recipients: number;
  readonly delivered: number;
  readonly gone: number;
  readonly failed: number;
  /**
   * In a room above the shard size: how many shard jobs took the fan-out over. The counts above are then 0,
   * since nothing was delivered yet; the deliveries are counted in the worker's metrics.
   */
  readonly shards?: number;
}

/** The codes of the error frames a client can receive. */
export type ErrorCode =
  | 'binary_not_supported'
  | 'frame_too_large'
  | 'invalid_json'
  | 'invalid_frame'
  | 'unknown_action'
  | 'empty_message'
  | 'message_too_large'
  | 'invalid_room'
  | 'invalid_name'
  | 'name_locked'
  | 'unknown_connection'
  | 'conflict'
  | 'rate_limited'
  | 'internal_error';

/** A refusal sent to the one connection whose frame was refused. */
export interface ErrorFrame {
  readonly type: 'error';
  readonly code: ErrorCode;
  readonly message: string;
  /** The client's id of the refused message, when it named one. */
  readonly clientMsgId?: string;
}

/** The answer to a keep-alive ping; tells the client its own connection id. */
export interface PongFrame {
  readonly type: 'pong';
  readonly connectionId: string;
}

/** Everything the server sends to a client. */
export type ServerFrame =
  | ChatMessage
  | EchoFrame
  | PresenceFrame
  | PresenceBatchFrame
  | RosterFrame
  | WelcomeFrame
  | AckFrame
  | ErrorFrame
  | PongFrame;
