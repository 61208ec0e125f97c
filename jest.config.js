// ESM jest (Nest 12 is ESM-only): ts-jest compiles TypeScript as ES modules and the `.js` suffix of
// relative imports is stripped so jest resolves the `.ts` source. Run through `npm test`, which sets
// --experimental-vm-modules.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
  // Each e2e file starts its own database (a fresh embedded Postgres, or its own database on the
  // server named by DATABASE_URL): starting takes seconds, so hooks get a generous budget.
  testTimeout: 60_000,
  maxWorkers: process.env.CI ? 2 : '50%',
};
