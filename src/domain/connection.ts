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
  /**
   * Counts the changes made to this connection (0 when saved). Presence frames carry it, so that a client
   * receiving two of them out of order keeps the newer one.
   */
  readonly revision: number;
  /** Whether its room has been told it joined; a member is announced once per room. */
  readonly announced: boolean;
}

/** What one atomic update of a connection may change. */
export interface ConnectionChanges {
  readonly room?: string;
  readonly name?: string;
  readonly announced?: boolean;
}

/** One entry of a room's roster. */
export interface Member {
  readonly id: string;
  readonly name: string;
  /** The verified user behind the member, when the handshake was authenticated. */
  readonly userId?: string;
  readonly revision: number;
}

/** One page of a room's members; `next` asks for the page after it, absent on the last. */
export interface MemberPage {
  readonly members: readonly Member[];
  readonly next?: string;
}

/** A connection's room and name before and after a change. */
export interface ConnectionChange {
  readonly before: Connection;
  readonly after: Connection;
}
