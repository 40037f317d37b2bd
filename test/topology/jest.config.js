// `npm run test:topology`: the production topology (docker-compose.yml without Docker), the
// image's unprivileged start, and a newcomer's first five minutes. Slower than `npm test`
// and needs Debian's redis-server, nginx-light and python3-mongomock: not part of `npm test`.
const { projects, reporters } = require('../../jest.config.js');

const e2e = projects.find((p) => p.displayName === 'e2e');

module.exports = {
  ...e2e,
  rootDir: require('node:path').join(__dirname, '..', '..'),
  displayName: 'topology',
  testMatch: ['<rootDir>/test/topology/**/*.topology-spec.ts'],
  globalSetup: '<rootDir>/test/topology/global-setup.js',
  reporters,
  // one at a time: each spec starts a set of processes, the machine has two cores
  maxWorkers: 1,
  testTimeout: 180000,
};
