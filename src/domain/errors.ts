/** Why a delivery failed, as far as the chat cares. */
export type DeliveryFailureReason = 'throttled' | 'timeout' | 'rejected' | 'unavailable';

/** A frame could not be delivered for a reason other than the connection being gone. */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  readonly connectionId: string;
  readonly reason: DeliveryFailureReason;

  constructor(connectionId: string, reason: DeliveryFailureReason, options?: { cause?: unknown }) {
    super(`delivery to ${connectionId} failed: ${reason}`, options);
    this.connectionId = connectionId;
    this.reason = reason;
  }
}

/** The calling connection has no stored row (it expired, or its $connect never completed). */
export class UnknownConnectionError extends Error {
  override readonly name = 'UnknownConnectionError';
  readonly connectionId: string;

  constructor(connectionId: string) {
    super(`connection ${connectionId} is not registered`);
    this.connectionId = connectionId;
  }
}

/** A connection's record kept changing under an update for longer than it is worth retrying. */
export class ConcurrentChangeError extends Error {
  override readonly name = 'ConcurrentChangeError';
  readonly connectionId: string;

  constructor(connectionId: string) {
    super(`connection ${connectionId} kept changing during an update`);
    this.connectionId = connectionId;
  }
}

/** A roster cursor that the server did not give (malformed, or from another room). */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';

  constructor(cursor: string) {
    super(`"${cursor.slice(0, 64)}" is not a roster cursor this server gave`);
  }
}
