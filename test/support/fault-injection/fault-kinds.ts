/**
 * The kinds of fault the suite injects, each switchable on its own: `FAULTS=all,-lost-disconnects` or
 * `FAULTS=throttles,lost-answers` (a bare list names the only kinds on; `-kind` switches one off).
 */
export const FAULT_KINDS = [
  /** A port call throws before it runs: throttling that outlived the SDK's retries, a 500. */
  'throttles',
  /** A port call runs, then throws: its answer was lost. */
  'lost-answers',
  /** A delivery throws before the frame reaches the socket. */
  'messenger-failures',
  /** A delivery reaches the socket, then throws (a timeout after the frame went out). */
  'messenger-lost-answers',
  /** A socket closes and its $disconnect never runs: the messenger answers gone from then on. */
  'lost-disconnects',
  /** A socket closes after $connect and before its hello. */
  'abandoned-handshakes',
  /** A queued job is delivered later than it was due. */
  'late-jobs',
  /** A job that ran is delivered again (SQS delivers at least once). */
  'repeated-jobs',
  /** Due jobs run in any order. */
  'reordered-jobs',
  /** Port faults inside $disconnect invocations, which API Gateway never retries. */
  'disconnect-faults',
  /**
   * Port faults between a connection's change (save, update, remove) and the end of its invocation's writes
   * before the first send: where the change is stored and its presence record is not.
   */
  'change-record-gap',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Which kinds are on, and single calls spared whatever the kinds: `port.method:before|after`, as failure reports
 * name them (`FAULT_SKIP=quota.claim:after`), to tell one finding's failures from the next one's.
 */
export interface FaultSwitches {
  has(kind: FaultKind): boolean;
  readonly spared: ReadonlySet<string>;
}

export const ALL_FAULTS: FaultSwitches = switchesOf(FAULT_KINDS, []);

function switchesOf(kinds: Iterable<FaultKind>, spared: Iterable<string>): FaultSwitches {
  const on = new Set(kinds);
  return { has: (kind) => on.has(kind), spared: new Set(spared) };
}

function isFaultKind(name: string): name is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(name);
}

/** Reads a switch list such as `all,-lost-disconnects`, and the calls to spare; undefined or empty means every kind. */
export function parseFaultSwitches(spec: string | undefined, spare?: string): FaultSwitches {
  const spared = (spare ?? '')
    .split(',')
    .map((call) => call.trim())
    .filter((call) => call.length > 0);
  for (const call of spared) {
    if (!/^[A-Za-z]+\.[A-Za-z#]+:(before|after)$/.test(call))
      throw new Error(`"${call}" is not port.method:before|after`);
  }
  const words = (spec ?? '')
    .split(',')
    .map((word) => word.trim())
    .filter((word) => word.length > 0);
  if (words.length === 0) return switchesOf(FAULT_KINDS, spared);
  const startsFull = words.every((word) => word.startsWith('-')) || words.includes('all');
  const on = new Set<FaultKind>(startsFull ? FAULT_KINDS : []);
  for (const word of words) {
    if (word === 'all' || word === 'none') {
      if (word === 'none') on.clear();
      continue;
    }
    const name = word.replace(/^[-+]/, '');
    if (!isFaultKind(name)) throw new Error(`unknown fault kind "${name}"; known: ${FAULT_KINDS.join(', ')}`);
    if (word.startsWith('-')) on.delete(name);
    else on.add(name);
  }
  return switchesOf(on, spared);
}

/** The environment that reads back as these switches: `FAULTS=...` and, when calls are spared, `FAULT_SKIP=...`. */
export function describeSwitches(switches: FaultSwitches): string {
  const off = FAULT_KINDS.filter((kind) => !switches.has(kind));
  const faults = `FAULTS=${['all', ...off.map((kind) => `-${kind}`)].join(',')}`;
  return switches.spared.size === 0 ? faults : `${faults} FAULT_SKIP=${[...switches.spared].join(',')}`;
}
