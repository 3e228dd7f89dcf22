import type { ServerFrame } from './frames.ts';

/** `gone` means the connection no longer exists and will never accept a frame again. */
export type DeliveryOutcome = 'delivered' | 'gone';

/**
 * Delivers frames to connections. Returns the expected outcomes; throws a {@link DeliveryError}
 * for anything else (throttling that outlived its retries, a timeout, a refusal).
 */
export interface Messenger {
  send(connectionId: string, frame: ServerFrame): Promise<DeliveryOutcome>;
}
