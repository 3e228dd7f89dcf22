/** What an injected fault does to one port call. */
export type FaultMode = 'none' | 'before' | 'after';

/** One call of a port's method; a page of an async listing is the call `<method>#page`. */
export interface PortCall {
  readonly port: string;
  readonly method: string;
}

/** Decides each call's fault, and hears of each call that ran (its result, before an `after` fault throws). */
export interface FaultPolicy {
  decide(call: PortCall): FaultMode;
  ran(call: PortCall, result: unknown): void;
}

/** The failure an injected fault throws, naming the call and whether it ran. */
export class InjectedFaultError extends Error {
  override readonly name = 'InjectedFaultError';

  constructor(call: PortCall, mode: Exclude<FaultMode, 'none'>) {
    super(`injected fault: ${call.port}.${call.method} ${mode === 'before' ? 'refused' : 'ran, answer lost'}`);
  }
}

const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor as unknown;

/**
 * Wraps any port object so that each call of any of its methods may fail as the policy decides: before it runs
 * (a throttle, a 500) or after (the answer was lost). Knows no method names, so a port whose methods change
 * stays wrapped; an async listing (an async generator method) may fail at any of its pages. Other properties
 * pass through.
 */
export function withFaults<T extends object>(port: string, target: T, policy: FaultPolicy): T {
  return new Proxy(target, {
    get(object, key) {
      const value: unknown = Reflect.get(object, key, object);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (value instanceof (AsyncGeneratorFunction as new () => object)) {
        return (...args: unknown[]) =>
          faultyPages({ port, method: `${key}#page` }, method.apply(object, args) as AsyncIterable<unknown>, policy);
      }
      return (...args: unknown[]): unknown => {
        const call = { port, method: key };
        const mode = policy.decide(call);
        if (mode === 'before') return Promise.reject(new InjectedFaultError(call, mode));
        // Bound to the target: adapters keep their state in private fields, which a proxy as `this` cannot read.
        const result = method.apply(object, args);
        return Promise.resolve(result).then((answer) => {
          policy.ran(call, answer);
          if (mode === 'after') throw new InjectedFaultError(call, mode);
          return answer;
        });
      };
    },
  });
}

async function* faultyPages<T>(call: PortCall, pages: AsyncIterable<T>, policy: FaultPolicy): AsyncIterable<T> {
  const iterator = pages[Symbol.asyncIterator]();
  for (;;) {
    const mode = policy.decide(call);
    if (mode === 'before') throw new InjectedFaultError(call, mode);
    const page = await iterator.next();
    if (page.done === true) return;
    policy.ran(call, page.value);
    if (mode === 'after') throw new InjectedFaultError(call, mode);
    yield page.value;
  }
}
