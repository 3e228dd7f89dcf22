import { afterEach, describe, expect, it } from '@jest/globals';
import type { DeliveryFailureReason } from '../../src/domain/errors.ts';
import type { ChatMessage } from '../../src/domain/frames.ts';
import type { Messenger } from '../../src/domain/messenger.ts';
import { deliveryErrorOf } from '../support/delivery-errors.ts';

/**
 * How a connection answers every delivery to it, in the port's terms:
 * - `delivered`: accepts the frame;
 * - `gone`: is closed for good;
 * - `throttled`: refuses as too busy for longer than the messenger retries;
 * - `failing`: fails on the service's side (a 5xx) for longer than the messenger retries;
 * - `rejected`: refuses the call itself (a 4xx other than gone and throttled: forbidden, bad request);
 * - `slow`: accepts the frame after half the messenger's timeout;
 * - `hanging`: never answers.
 */
export type ConnectionScript = 'delivered' | 'gone' | 'throttled' | 'failing' | 'rejected' | 'slow' | 'hanging';

/** A messenger under test, with the connections it delivers to; the functions are called detached. */
export interface MessengerHarness {
  readonly messenger: Messenger;
  /** Sets how the connection answers every delivery; the suite scripts each connection before it sends. */
  readonly script: (connectionId: string, script: ConnectionScript) => void;
  /** The JSON text of every frame that reached the connection, one per attempt, in order. */
  readonly received: (connectionId: string) => string[];
  readonly close: () => Promise<void>;
}

export interface MessengerFactory {
  /** A messenger that gives up on a delivery after `timeoutMs`, its own retries included. */
  (settings: { timeoutMs: number }): Promise<MessengerHarness>;
}

// Long enough for an adapter's own retries to run out first: the AWS SDK's backoff after two throttled
// attempts waits up to 1 s and then up to 2 s.
const PATIENT_MS = 5000;
// Short, so that a hanging connection costs the suite little.
const IMPATIENT_MS = 600;

function message(id: string, text = `hello from ${id}`): ChatMessage {
  return {
    type: 'message',
    id,
    seq: 1,
    room: 'lobby',
    from: 'S',
    name: 'Sender',
    text,
    sentAt: '2030-01-01T00:00:00Z',
  };
}

interface Failure {
  readonly when: string;
  readonly script: ConnectionScript;
  readonly reason: DeliveryFailureReason;
  readonly timeoutMs: number;
}

const failures: readonly Failure[] = [
  { when: 'throttling outlasts the retries', script: 'throttled', reason: 'throttled', timeoutMs: PATIENT_MS },
  { when: 'server errors outlast the retries', script: 'failing', reason: 'unavailable', timeoutMs: PATIENT_MS },
  { when: 'the call is refused', script: 'rejected', reason: 'rejected', timeoutMs: PATIENT_MS },
  { when: 'the connection never answers', script: 'hanging', reason: 'timeout', timeoutMs: IMPATIENT_MS },
];

/** What every Messenger must do, the fakes the unit tests use included; run once per messenger. */
export function messengerContract(adapter: string, create: MessengerFactory): void {
  describe(`Messenger contract: ${adapter}`, () => {
    const opened: MessengerHarness[] = [];

    async function harness(timeoutMs = PATIENT_MS): Promise<MessengerHarness> {
      const created = await create({ timeoutMs });
      opened.push(created);
      return created;
    }

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((h) => h.close()));
    });

    it('delivers the frame to a connection that accepts it, exactly once', async () => {
      const { messenger, script, received } = await harness();
      script('A', 'delivered');

      const outcome = await messenger.send('A', message('m1'));

      expect({ outcome, received: received('A').map((text) => JSON.parse(text)) }).toEqual({
        outcome: 'delivered',
        received: [message('m1')],
      });
    });

    it('reports a closed connection as gone, without trying it again', async () => {
      const { messenger, script, received } = await harness();
      script('A', 'gone');

      const outcome = await messenger.send('A', message('m1'));

      expect({ outcome, attempts: received('A').length }).toEqual({ outcome: 'gone', attempts: 1 });
    });

    it.each(failures)('throws a DeliveryError (reason: $reason) naming the connection when $when', async (failure) => {
      const { messenger, script } = await harness(failure.timeoutMs);
      script('A', failure.script);

      const error = await deliveryErrorOf(messenger.send('A', message('m1')));

      expect({ connectionId: error.connectionId, reason: error.reason }).toEqual({
        connectionId: 'A',
        reason: failure.reason,
      });
    });

    it('delivers to a connection that answers slowly but within the timeout', async () => {
      const { messenger, script, received } = await harness(IMPATIENT_MS);
      script('A', 'slow');

      const outcome = await messenger.send('A', message('m1'));

      expect({ outcome, received: received('A').map((text) => JSON.parse(text)) }).toEqual({
        outcome: 'delivered',
        received: [message('m1')],
      });
    });

    it('keeps sends to different connections apart: each gets its own frame and its own outcome', async () => {
      const { messenger, script, received } = await harness();
      script('A', 'delivered');
      script('B', 'gone');
      script('C', 'failing');

      const [a, b, c] = await Promise.allSettled([
        messenger.send('A', message('to-A')),
        messenger.send('B', message('to-B')),
        messenger.send('C', message('to-C')),
      ]);

      // A failing connection may be tried more than once; each distinct frame it saw counts once.
      const framesTo = (id: string): unknown[] => [...new Set(received(id))].map((text) => JSON.parse(text));
      expect({
        outcomes: [a, b, c].map((s) => (s?.status === 'fulfilled' ? s.value : s?.reason)),
        frames: { A: framesTo('A'), B: framesTo('B'), C: framesTo('C') },
      }).toEqual({
        outcomes: [
          'delivered',
          'gone',
          expect.objectContaining({ name: 'DeliveryError', connectionId: 'C', reason: 'unavailable' }),
        ],
        frames: { A: [message('to-A')], B: [message('to-B')], C: [message('to-C')] },
      });
    });

    it('delivers unicode text intact: accents, scripts, emoji, joiners and combining marks', async () => {
      const { messenger, script, received } = await harness();
      script('A', 'delivered');
      const frame = message('m1', 'grüß dich 😀 日本語 مرحبا 👩\u200D👩\u200D👧 e\u0301 \u{1F1FA}\u{1F1E6}');

      await messenger.send('A', frame);

      expect(received('A').map((text) => JSON.parse(text))).toEqual([frame]);
    });
  });
}
