// Three suites with one config: unit tests touch no server; integration and e2e tests talk to
// the real Kafka, MinIO and ClickHouse of the local stack (see infra/local).
const { pathsToModuleNameMapper } = require('./infra/jest/paths');

const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { swcrc: true }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: pathsToModuleNameMapper(),
  setupFiles: ['reflect-metadata'],
};

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,tools,infra,e2e}/**/*.spec.ts'], testPathIgnorePatterns: ['\\.int\\.spec\\.ts$'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs,tools}/**/*.int.spec.ts', '<rootDir>/e2e/bench/*.int.spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/infra/jest/timeout-integration.js'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/e2e/**/*.e2e-spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/infra/jest/timeout-e2e.js'],
      // E2E_TARGET=containers: the spec files of a run share its containers, removed at the end.
      globalSetup: '<rootDir>/e2e/support/global-setup.ts',
      globalTeardown: '<rootDir>/e2e/support/global-teardown.ts',
    },
  ],
};
