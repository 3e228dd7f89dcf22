import { setTimeout as sleep } from 'node:timers/promises';
import { DeliveryError, type DeliveryFailureReason } from '../../src/domain/errors.ts';
import type { ServerFrame } from '../../src/domain/frames.ts';
import type { DeliveryOutcome, Messenger } from '../../src/domain/messenger.ts';

/** How the fake answers a send to one connection. */
export type Behaviour =
  DeliveryOutcome | Error | ((frame: ServerFrame, connectionId: string) => Promise<DeliveryOutcome>);

/**
 * Records every frame it is asked to send. Each connection id can be told to answer `gone`, to throw, or to
 * run a function (to delay, or to count calls in flight); all others answer `delivered`. {@link failure} and
 * {@link after} build the behaviours the real adapter shows, which the Messenger contract suite holds it to.
 */
export class RecordingMessenger implements Messenger {
  readonly sent: Array<{ connectionId: string; frame: ServerFrame }> = [];
  readonly #behaviours = new Map<string, Behaviour>();
  #fallback: Behaviour = 'delivered';

  /** Throws a {@link DeliveryError} with that reason, naming the connection, as the real adapter does. */
  static failure(reason: DeliveryFailureReason): Behaviour {
    return async (_frame, connectionId) => {
      throw new DeliveryError(connectionId, reason);
    };
  }

  /** Behaves as `then` does once `ms` have passed: a slow answer, or (with a `timeout` failure) a hang. */
  static after(ms: number, then: Behaviour): Behaviour {
    return async (frame, connectionId) => {
      await sleep(ms);
      return RecordingMessenger.#outcome(then, frame, connectionId);
    };
  }

  static #outcome(
    behaviour: Behaviour,
    frame: ServerFrame,
    connectionId: string,
  ): DeliveryOutcome | Promise<DeliveryOutcome> {
    if (behaviour instanceof Error) throw behaviour;
    if (typeof behaviour === 'function') return behaviour(frame, connectionId);
    return behaviour;
  }

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
    return RecordingMessenger.#outcome(this.#behaviours.get(connectionId) ?? this.#fallback, frame, connectionId);
  }
}
