import type { ServerFrame } from '../../src/domain/frames.ts';
import type { DeliveryOutcome, Messenger } from '../../src/domain/messenger.ts';

type Behaviour = DeliveryOutcome | Error | ((frame: ServerFrame) => Promise<DeliveryOutcome>);

/**
 * Records every frame it is asked to send. Each connection id can be told to answer `gone`, to throw, or to
 * run a function (to delay, or to count calls in flight); all others answer `delivered`.
 */
export class RecordingMessenger implements Messenger {
  readonly sent: Array<{ connectionId: string; frame: ServerFrame }> = [];
  readonly #behaviours = new Map<string, Behaviour>();
  #fallback: Behaviour = 'delivered';

  on(connectionId: string, behaviour: Behaviour): this {
    this.#behaviours.set(connectionId, behaviour);
    return this;
  }

  otherwise(behaviour: Behaviour): this {
    this.#fallback = behaviour;
    return this;
  }

  framesTo(connectionId: string): ServerFrame[] {
    return this.sent.filter((s) => s.connectionId === connectionId).map((s) => s.frame);
  }

  async send(connectionId: string, frame: ServerFrame): Promise<DeliveryOutcome> {
    this.sent.push({ connectionId, frame });
    const behaviour = this.#behaviours.get(connectionId) ?? this.#fallback;
    if (behaviour instanceof Error) throw behaviour;
    if (typeof behaviour === 'function') return behaviour(frame);
    return behaviour;
  }
}
