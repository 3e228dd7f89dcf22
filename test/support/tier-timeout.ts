import { jest } from '@jest/globals';

// jest applies only the root config's testTimeout and ignores a project's own; a tier that needs another
// names it in its project's globals (jest.config.js), and this setup file applies it to every test and hook.
const { tierTimeoutMs } = globalThis as { tierTimeoutMs?: unknown };
if (typeof tierTimeoutMs === 'number') jest.setTimeout(tierTimeoutMs);
