// One jest run covers unit specs (beside the code), store contract specs and the
// end-to-end specs in test/. `npm test` runs all of them.
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true }, target: 'es2022', keepClassNames: true } }];

const libs = ['common', 'persistence', 'kiosk-registry', 'workforce', 'device-trust', 'provisioning', 'session', 'relay', 'offline-sync', 'vault', 'fraud', 'timesheets', 'tlog'];
const moduleNameMapper = { '^@app/api/(.*)$': '<rootDir>/apps/api/src/$1' };
for (const lib of libs) {
  moduleNameMapper[`^@app/${lib}$`] = `<rootDir>/libs/${lib}/src`;
  moduleNameMapper[`^@app/${lib}/(.*)$`] = `<rootDir>/libs/${lib}/src/$1`;
}

const base = {
  rootDir: __dirname,
  transform: { '^.+\\.ts$': swc },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  testEnvironment: 'node',
  // each test file's SQLite errors from its own realm (the native addon is one per process)
  setupFiles: ['<rootDir>/test/support/sqlite-error-realm.js'],
};

module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'] },
    { ...base, displayName: 'contract', testMatch: ['<rootDir>/libs/**/*.contract-spec.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
    // The operator console in Debian's Chromium; skipped (and says so) when it is not installed.
    { ...base, displayName: 'browser', testMatch: ['<rootDir>/test/browser/**/*.browser-spec.ts'] },
  ],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  maxWorkers: 2,
  // how long jest waits before it calls a test or hook hung: no assertion on speed. Two
  // minutes, because a clean-clone CI runs on a loaded 2-core machine, where one API process
  // took 24 s to boot (at a load of 20) and a hook that starts Redis, an app and such a
  // process went past the 30 s this was
  testTimeout: 120000,
};
