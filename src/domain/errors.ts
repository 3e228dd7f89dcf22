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
