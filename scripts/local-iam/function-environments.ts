/**
 * Each function's own environment under serverless-offline's in-process mode. Lambda gives every function an
 * environment of its own; in-process, the emulator copies the invoked function's variables into the one shared
 * `process.env` before each invocation (InProcessRunner.run), so functions running at once read each other's
 * values. That makes per-function credentials, which the local IAM tells callers by, a race: a connect handler whose
 * SDK client resolves its credentials while a message handler is being set up would sign as the message function.
 *
 * Here every invocation runs in an async context of its own (AsyncLocalStorage) and `process.env` becomes a view
 * that reads and writes that invocation's variables over the process's own: what the emulator copies in, and what
 * the handler reads, stay with the invocation and the work it starts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

type Variables = Record<string, string>;

const invocation = new AsyncLocalStorage<Variables>();
let isolated = false;

/** A `process.env` that reads and writes the current invocation's variables, and the process's outside one. */
function environmentView(shared: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const own = (key: string | symbol): Variables | undefined => {
    const store = invocation.getStore();
    return store !== undefined && typeof key === 'string' ? store : undefined;
  };
  return new Proxy(shared, {
    get(target, key) {
      const store = own(key);
      return store !== undefined && typeof key === 'string' && Object.hasOwn(store, key)
        ? store[key]
        : Reflect.get(target, key);
    },
    set(target, key, value) {
      const store = own(key);
      if (store === undefined || typeof key !== 'string') return Reflect.set(target, key, value);
      // As process.env does, every value is kept as a string.
      store[key] = String(value);
      return true;
    },
    deleteProperty(target, key) {
      const store = own(key);
      if (store !== undefined && typeof key === 'string') {
        Reflect.deleteProperty(store, key);
        return true;
      }
      return Reflect.deleteProperty(target, key);
    },
    has(target, key) {
      const store = own(key);
      return (store !== undefined && typeof key === 'string' && Object.hasOwn(store, key)) || Reflect.has(target, key);
    },
    ownKeys(target) {
      const store = invocation.getStore();
      return [...new Set([...Reflect.ownKeys(target), ...Object.keys(store ?? {})])];
    },
    getOwnPropertyDescriptor(target, key) {
      const store = own(key);
      if (store !== undefined && typeof key === 'string' && Object.hasOwn(store, key))
        return { value: store[key], writable: true, enumerable: true, configurable: true };
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
  });
}

/** What serverless-offline's InProcessRunner has: a run that copies the function's variables into process.env. */
export interface Runner {
  run(this: unknown, ...args: unknown[]): Promise<unknown>;
}

/**
 * Runs every call of the runner's `run` in an environment of its own, over the process's: what the runner copies
 * into `process.env`, and what the work it starts reads, stay with that call. Installs the view once per process.
 */
export function isolateRuns(prototype: Runner): void {
  const run = prototype.run;
  prototype.run = function (this: unknown, ...args: unknown[]) {
    return invocation.run({}, () => run.apply(this, args));
  };
  if (!isolated) {
    isolated = true;
    process.env = environmentView(process.env);
  }
}

const patched = new Set<string>();

/** Gives each in-process invocation of serverless-offline (package folder `offlineRoot`) its own environment. */
export async function isolateFunctionEnvironments(offlineRoot: string): Promise<void> {
  const url = pathToFileURL(join(offlineRoot, 'src/lambda/handler-runner/in-process-runner/InProcessRunner.js')).href;
  if (patched.has(url)) return;
  patched.add(url);
  // The module instance the emulator itself loaded: the same file URL.
  const module = (await import(url)) as { default: { prototype: Runner } };
  isolateRuns(module.default.prototype);
}
