/**
 * esbuild plugins of the handler bundles: serverless.yml's `custom.esbuild.plugins` names this file (serverless-esbuild
 * takes its default export) and bench/coldstart.ts builds with the same list.
 */
import { isBuiltin } from 'node:module';
import type { Plugin } from 'esbuild';

const REQUIRED = 'builtin-through-require';

/**
 * Loads Node's built-in modules with `require()` (the bundle's banner defines it) instead of `import`. The ESM
 * facade of a built-in reads every export once, and `node:http`'s lazy `WebSocket`, `CloseEvent` and
 * `MessageEvent` exports then load undici: about 30 ms of a 95 ms initialisation, for a WebSocket client that no
 * handler uses. esbuild's interop reads a required module's exports only when the code uses them.
 */
export const builtinsThroughRequire: Plugin = {
  name: 'builtins-through-require',
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z0-9_/]+$/ }, (args) => {
      if (!isBuiltin(args.path)) return undefined;
      if (args.namespace === REQUIRED) return { path: args.path, external: true };
      return { path: args.path, namespace: REQUIRED };
    });
    build.onLoad({ filter: /.*/, namespace: REQUIRED }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

export default [builtinsThroughRequire];
