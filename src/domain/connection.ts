/** The room every connection is in until it joins another. */
export const DEFAULT_ROOM = 'lobby';

/** A live WebSocket connection as the chat domain sees it. */
export interface Connection {
  readonly id: string;
  /** The one room this connection hears and speaks in. */
  readonly room: string;
  /** The display name; names need not be unique. */
  readonly name: string;
  /** The verified user behind the connection, when the handshake was authenticated. */
  readonly userId?: string;
  readonly connectedAt: Date;
  /** API Gateway closes every connection after two hours; past this instant the row is stale. */
  readonly expiresAt: Date;
}

/** One entry of a room's roster. */
export interface Member {
  readonly id: string;
  readonly name: string;
}

/** A connection's room and name before and after a change. */
export interface ConnectionChange {
  readonly before: Connection;
  readonly after: Connection;
}
