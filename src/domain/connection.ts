/** A live WebSocket connection as the chat domain sees it. */
export interface Connection {
  readonly id: string;
  readonly connectedAt: Date;
  /** API Gateway closes every connection after two hours; past this instant the row is stale. */
  readonly expiresAt: Date;
}
