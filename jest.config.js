/** Each test tier is a jest project: `--selectProjects unit|contract|e2e|browser` runs one. */
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
};
const shared = { extensionsToTreatAsEsm: ['.ts'], transform, testEnvironment: 'node' };

/**
 * A tier's own timeout for each test and hook. jest 30 applies only the root config's testTimeout: it
 * accepts a `testTimeout` in a project and ignores it. So the tier names its timeout in its globals, and
 * a setup file of its own hands it to `jest.setTimeout`.
 */
const tierTimeout = (ms, otherSetupFiles = []) => ({
  globals: { tierTimeoutMs: ms },
  setupFilesAfterEnv: ['<rootDir>/test/support/tier-timeout.ts', ...otherSetupFiles],
});

/** Fails a test in which a client sent or received a frame that asyncapi.yaml does not describe. */
const protocolContract = '<rootDir>/test/support/protocol-contract-setup.ts';

export default {
  // The timeout of every tier that sets none of its own: unit, contract, stack and browser.
  testTimeout: 90_000,
  // Reporters are global in jest, like testTimeout; this one prints only when reliability tests ran.
  reporters: ['default', '<rootDir>/test/reliability/summary-reporter.ts'],
  // Every function's calls and IAM's answers, collected over the run; `npm test` checks least privilege after it.
  globalSetup: '<rootDir>/test/support/iam-usage-setup.ts',
  globalTeardown: '<rootDir>/test/support/iam-usage-teardown.ts',
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...shared, displayName: 'contract', testMatch: ['<rootDir>/test/contract/**/*.test.ts'] },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      ...tierTimeout(60_000, [protocolContract]),
    },
    { ...shared, displayName: 'stack', testMatch: ['<rootDir>/test/stack/**/*.test.ts'] },
    {
      ...shared,
      displayName: 'browser',
      testMatch: ['<rootDir>/test/browser/**/*.test.ts'],
      globalSetup: '<rootDir>/test/browser/global-setup.ts',
      setupFilesAfterEnv: [protocolContract],
    },
    {
      ...shared,
      displayName: 'reliability',
      testMatch: ['<rootDir>/test/reliability/**/*.test.ts'],
      ...tierTimeout(180_000),
    },
  ],
};
