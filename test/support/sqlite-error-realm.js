// Jest setup (every test file): better-sqlite3's native addon is loaded once per process, by
// Node's own module cache outside jest's per-file registry, and keeps the SqliteError
// constructor of the first test file of a worker that opened a database (`setErrorConstructor`,
// once: `isInitialized`). Every later file of that worker got its SQLite errors from that
// file's realm: not `instanceof Error` in its own, so jest's `rejects.toThrow` took one for no
// throw (fraud.service.spec.ts under the whole suite) and `err instanceof Error ? … : String(err)`
// took the other branch. Marked not initialized here, the file's own better-sqlite3 installs
// its realm's SqliteError when it opens its first database. Production has one realm.
const { dirname } = require('node:path');

const addon = require('bindings')({
  bindings: 'better_sqlite3.node',
  module_root: dirname(require.resolve('better-sqlite3/package.json')),
});
addon.isInitialized = false;
