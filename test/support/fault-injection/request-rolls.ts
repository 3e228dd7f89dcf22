/** How the HTTP fault proxies (DynamoDB's, SQS's) draw each request's fate, and how often the SDK tries it. */
import { streamOf } from './fault-dice.ts';
import type { StorageContext } from './storage.ts';

/**
 * Attempts per request, by seed: 1 (every fault reaches the adapter, as the port proxy's do), 2 (a fault is
 * retried, two in a row fail the request), or the SDK's default 3.
 */
export const attemptsOf = (seed: number): number => 1 + (seed % 3);

/** FNV-1a of a string, for a request's roll. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * Each request's roll, drawn from the step's stream by the request itself: its body (without the table's name
 * and the random change tokens that differ from run to run) and how many times the same body was sent in this
 * step (the SDK's replays). Concurrent requests whose order on the wire varies keep their fates; what still
 * varies is the order of their effects (and of the deliveries the messenger's dice decide), so a run is not
 * guaranteed to be an exact replay (in practice the runs of a seed have matched, faults and deliveries alike,
 * but shrinking tries each candidate more than once). No faults outside a step, nor in $disconnect without `disconnect-faults`.
 * `tableName` is any name that differs from run to run (the SQS proxy's rolls pass the queue's URL).
 */
export function requestRolls(
  { seed, switches, dice }: StorageContext,
  tableName: string,
): (label: string, body: Buffer) => number {
  const sent = new Map<string, number>();
  let step = -1;
  return (_label, body) => {
    if (!dice.enabled) return 1;
    if (dice.invocation === 'disconnect' && !switches.has('disconnect-faults')) return 1;
    if (dice.step !== step) {
      step = dice.step;
      sent.clear();
    }
    const request = body.toString('utf8').replaceAll(tableName, 'T').replace(UUID, 'U');
    const times = (sent.get(request) ?? 0) + 1;
    sent.set(request, times);
    return streamOf(seed ^ hashOf(request), step, 3 + times)();
  };
}
