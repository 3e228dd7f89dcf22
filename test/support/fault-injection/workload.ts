import { seededRandom } from '../seeded-random.ts';
import type { FaultSwitches } from './fault-kinds.ts';

/** The rooms the pages move between; the first is where a connection without `?room=` lands. */
export const ROOMS = ['lobby', 'kitchen', 'garden'] as const;

/** The settings of one seed's chat: small shard and big-room sizes in some seeds, so both paths run. */
export interface WorldConfig {
  readonly fanOutShardSize: number;
  readonly bigRoomSize: number;
  readonly roomShards: number;
  readonly perUser: number;
  readonly perIp: number;
  readonly presenceWindowMs: number;
}

/**
 * One step of a workload. `page` names a browser page, which has at most one socket at a time; a step on a
 * page with no open socket (one that a shrunk workload never opened) does nothing.
 */
export type Op = { readonly id: number } & (
  | {
      readonly kind: 'connect';
      readonly page: number;
      readonly room?: string;
      readonly userId?: string;
      readonly sourceIp: string;
    }
  | { readonly kind: 'hello'; readonly page: number }
  | { readonly kind: 'join'; readonly page: number; readonly room: string }
  | { readonly kind: 'leave'; readonly page: number }
  | { readonly kind: 'rename'; readonly page: number; readonly name: string }
  | { readonly kind: 'post'; readonly page: number }
  | { readonly kind: 'who'; readonly page: number }
  | { readonly kind: 'close'; readonly page: number; readonly how: 'disconnect' | 'lost' }
  | { readonly kind: 'worker'; readonly jobs: number }
  | { readonly kind: 'tick'; readonly ms: number }
);

export interface Workload {
  readonly seed: number;
  readonly config: WorldConfig;
  readonly ops: readonly Op[];
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

/** The seed's settings: a third of the seeds shard rooms above 3 or 4 members, a third count rooms above 2 or 3 as big. */
export function configOf(seed: number): WorldConfig {
  const random = seededRandom(seed ^ 0x5bd1e995);
  return {
    fanOutShardSize: pick(random, [3, 4, 1000]),
    bigRoomSize: pick(random, [2, 3, 100]),
    roomShards: pick(random, [1, 2, 4]),
    perUser: pick(random, [2, 3]),
    perIp: pick(random, [3, 5]),
    presenceWindowMs: 1000,
  };
}

/** A random workload of `length` steps for this seed; kinds of fault that are off are not generated either. */
export function generateWorkload(seed: number, length: number, switches: FaultSwitches): Workload {
  const random = seededRandom(seed);
  const pages: Array<{ open: boolean; hello: boolean }> = [];
  const ops: Op[] = [];
  const openPages = (): number[] => pages.flatMap((page, index) => (page.open ? [index] : []));
  while (ops.length < length) {
    const id = ops.length;
    const open = openPages();
    const roll = random();
    const page = open.length > 0 ? pick(random, open) : undefined;
    const state = page === undefined ? undefined : pages[page];
    if (page === undefined || state === undefined || (roll < 0.14 && open.length < 12)) {
      const closed = pages.flatMap((p, index) => (p.open ? [] : [index]));
      const target = closed.length > 0 && random() < 0.3 ? pick(random, closed) : pages.length;
      pages[target] = { open: true, hello: false };
      const room = random() < 0.5 ? pick(random, ROOMS) : undefined;
      const userId = random() < 0.5 ? pick(random, ['ann', 'bob', 'cy']) : undefined;
      ops.push({
        id,
        kind: 'connect',
        page: target,
        ...(room !== undefined ? { room } : {}),
        ...(userId !== undefined ? { userId } : {}),
        sourceIp: pick(random, ['192.0.2.1', '192.0.2.2', '192.0.2.3']),
      });
    } else if (!state.hello && (random() < 0.85 || !switches.has('abandoned-handshakes'))) {
      state.hello = true;
      ops.push({ id, kind: 'hello', page });
    } else if (!state.hello) {
      state.open = false;
      ops.push({ id, kind: 'close', page, how: 'disconnect' });
    } else if (roll < 0.3) {
      ops.push({ id, kind: 'post', page });
    } else if (roll < 0.4) {
      ops.push({ id, kind: 'join', page, room: pick(random, ROOMS) });
    } else if (roll < 0.44) {
      ops.push({ id, kind: 'leave', page });
    } else if (roll < 0.5) {
      ops.push({ id, kind: 'rename', page, name: pick(random, ['Ann', 'Bob', 'Cy', 'Dee']) });
    } else if (roll < 0.56) {
      ops.push({ id, kind: 'who', page });
    } else if (roll < 0.64) {
      state.open = false;
      const lost = switches.has('lost-disconnects') && random() < 0.3;
      ops.push({ id, kind: 'close', page, how: lost ? 'lost' : 'disconnect' });
    } else if (roll < 0.82) {
      ops.push({ id, kind: 'worker', jobs: 1 + Math.floor(random() * 6) });
    } else {
      const jump = random();
      // Mostly within a presence window; now and then past the handshake grace and removal timeout, or past LOST_FLUSH_MS.
      const ms = jump < 0.8 ? Math.floor(random() * 1500) : jump < 0.95 ? 31_000 : 61_000;
      ops.push({ id, kind: 'tick', ms });
    }
  }
  return { seed, config: configOf(seed), ops };
}

/** One line per step, for a failure report. */
export function describeOps(ops: readonly Op[]): string {
  return ops
    .map((op) => {
      const { id, kind, ...rest } = op;
      const fields = Object.entries(rest)
        .map(([key, value]) => `${key}=${String(value)}`)
        .join(' ');
      return `  #${id} ${kind}${fields.length > 0 ? ` ${fields}` : ''}`;
    })
    .join('\n');
}
