import { seededRandom } from '../seeded-random.ts';
import type { FaultSwitches } from './fault-kinds.ts';
import type { FaultMode, FaultPolicy, PortCall } from './fault-proxy.ts';

/** How often a port call fails before it runs, and how often after. */
const THROTTLE_RATE = 0.02;
const LOST_ANSWER_RATE = 0.02;
/** How often a delivery fails before it reaches the socket, and how often after. */
const DELIVERY_FAILURE_RATE = 0.03;
const DELIVERY_LOST_ANSWER_RATE = 0.02;

/**
 * The connection repository's writes that change who is where: each one's presence record follows in the same
 * invocation, in another write, until the two become one call. Only `change-record-gap` needs these names.
 */
const CONNECTION_CHANGES = new Set(['save', 'update', 'remove']);

export type InvocationKind = 'connect' | 'disconnect' | 'message' | 'worker';

/** A random stream fixed by the seed, the workload step and a purpose: shrinking a workload keeps each step's dice. */
export function streamOf(seed: number, step: number, purpose: number): () => number {
  let hash = Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b) ^ Math.imul(purpose + 1, 0xc2b2ae35);
  hash = Math.imul(hash ^ (hash >>> 16), 0x7feb352d);
  return seededRandom(hash ^ (hash >>> 15));
}

/**
 * The fault policy of one run: each call's fault comes from the current step's stream, so the same step of the
 * same seed fails alike whatever steps a shrunk workload dropped. Knows which kinds are on and which
 * invocation runs, and stops at settling.
 */
export class FaultDice implements FaultPolicy {
  readonly #seed: number;
  readonly #switches: FaultSwitches;
  #random: () => number = () => 1;
  #enabled = false;
  #invocation: InvocationKind = 'message';
  /** A connection change ran and its invocation has not sent anything since: its presence record may be pending. */
  #inGap = false;
  /** Each fault injected: the step, the invocation and the call, for a failure report. */
  readonly injected: string[] = [];
  #step = 0;
  #what = '';

  constructor(seed: number, switches: FaultSwitches) {
    this.#seed = seed;
    this.#switches = switches;
  }

  /** Faults from this step's stream from now on. */
  startStep(step: number): void {
    this.#enabled = true;
    this.#step = step;
    this.#random = streamOf(this.#seed, step, 2);
  }

  /** No more faults: the system settles. */
  stop(): void {
    this.#enabled = false;
  }

  /** Whether faults are injected now (a step runs), and of which step and invocation. */
  get enabled(): boolean {
    return this.#enabled;
  }

  get step(): number {
    return this.#step;
  }

  get invocation(): InvocationKind {
    return this.#invocation;
  }

  /** Notes a fault injected below the ports (by the DynamoDB fault proxy), for a failure report. */
  record(fault: string): void {
    this.injected.push(`#${this.#step} ${this.#what}: ${fault}`);
  }

  startInvocation(kind: InvocationKind, what: string): void {
    this.#invocation = kind;
    this.#what = what;
    this.#inGap = false;
  }

  decide(call: PortCall): FaultMode {
    if (!this.#enabled) return 'none';
    const roll = this.#random();
    const chosen = call.port === 'messenger' ? this.#delivery(roll) : this.#portCall(call, roll);
    const mode = this.#switches.spared.has(`${call.port}.${call.method}:${chosen}`) ? 'none' : chosen;
    if (mode !== 'none') {
      const how = mode === 'before' ? 'refused' : 'ran, answer lost';
      this.injected.push(`#${this.#step} ${this.#what}: ${call.port}.${call.method} ${how}`);
    }
    return mode;
  }

  ran(call: PortCall, result: unknown): void {
    if (call.port === 'messenger') this.#inGap = false;
    else if (
      call.port === 'connections' &&
      CONNECTION_CHANGES.has(call.method) &&
      changedSomething(call.method, result)
    ) {
      this.#inGap = true;
    }
  }

  #delivery(roll: number): FaultMode {
    if (this.#switches.has('messenger-failures') && roll < DELIVERY_FAILURE_RATE) return 'before';
    const lost = roll >= DELIVERY_FAILURE_RATE && roll < DELIVERY_FAILURE_RATE + DELIVERY_LOST_ANSWER_RATE;
    return this.#switches.has('messenger-lost-answers') && lost ? 'after' : 'none';
  }

  #portCall(call: PortCall, roll: number): FaultMode {
    if (this.#invocation === 'disconnect' && !this.#switches.has('disconnect-faults')) return 'none';
    if (this.#inGap && !this.#switches.has('change-record-gap')) return 'none';
    if (this.#switches.has('throttles') && roll < THROTTLE_RATE) return 'before';
    if (!this.#switches.has('lost-answers') || roll < THROTTLE_RATE || roll >= THROTTLE_RATE + LOST_ANSWER_RATE) {
      return 'none';
    }
    // A change's lost answer opens the gap as surely as a fault after it.
    const opensGap = call.port === 'connections' && CONNECTION_CHANGES.has(call.method);
    return opensGap && !this.#switches.has('change-record-gap') ? 'none' : 'after';
  }
}

/**
 * Whether a connection write's answer says it changed something: `save` answers nothing and always writes; a
 * removal of nothing and an update that changed nothing do not.
 */
function changedSomething(method: string, result: unknown): boolean {
  if (method === 'save') return true;
  if (typeof result === 'object' && result !== null && 'before' in result && 'after' in result) {
    return result.before !== result.after;
  }
  return result !== undefined;
}
