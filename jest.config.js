/** Each test tier is a jest project: `--selectProjects unit|contract|e2e|browser` runs one. */
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
};
const shared = { extensionsToTreatAsEsm: ['.ts'], transform, testEnvironment: 'node' };

export default {
  // A project's own testTimeout is not applied by jest; this global one bounds the slow tiers' tests.
  testTimeout: 90_000,
  // Reporters are global in jest, like testTimeout; this one prints only when reliability tests ran.
  reporters: ['default', '<rootDir>/test/reliability/summary-reporter.ts'],
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...shared, displayName: 'contract', testMatch: ['<rootDir>/test/contract/**/*.test.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'], testTimeout: 60_000 },
    { ...shared, displayName: 'stack', testMatch: ['<rootDir>/test/stack/**/*.test.ts'] },
    {
      ...shared,
      displayName: 'browser',
      // The page's tests drive a DOM; they type-check with the page's own configuration.
      transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'web/tsconfig.json' }] },
      testMatch: ['<rootDir>/test/browser/**/*.test.ts'],
      globalSetup: '<rootDir>/test/browser/global-setup.ts',
      testTimeout: 90_000,
    },
    {
      ...shared,
      displayName: 'reliability',
      testMatch: ['<rootDir>/test/reliability/**/*.test.ts'],
      testTimeout: 180_000,
    },
  ],
};
