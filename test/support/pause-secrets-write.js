/**
 * Preloaded (NODE_OPTIONS=--require) into a real process to force the interleaving of two
 * writers of `<DATA_DIR>/secrets.json` in test/secrets-file-lock.e2e-spec.ts. With
 * MDAI_SECRETS_MARKS=<dir>: a read or an open of secrets.json or of a file beside it named
 * after it (its lock) leaves `<dir>/touched-<pid>`; with
 * MDAI_SECRETS_PAUSE=1 too, the rename that puts a new secrets.json in place first leaves
 * `<dir>/paused-<pid>` and waits until `<dir>/go` exists, keeping the file's lock fresh meanwhile
 * (a holder at work, not a stopped one). Nothing else changes.
 */
const fs = require('node:fs');
const { basename, join } = require('node:path');

const marks = process.env.MDAI_SECRETS_MARKS;
if (marks) {
  const pause = process.env.MDAI_SECRETS_PAUSE === '1';
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const { readFileSync, openSync, renameSync, writeFileSync } = fs;
  const touch = (path) => {
    if (typeof path === 'string' && basename(path).startsWith('secrets.json'))
      writeFileSync(join(marks, `touched-${process.pid}`), '');
  };
  fs.readFileSync = function (path, ...rest) {
    touch(path);
    return readFileSync.call(this, path, ...rest);
  };
  fs.openSync = function (path, ...rest) {
    touch(path);
    return openSync.call(this, path, ...rest);
  };
  fs.renameSync = function (from, to) {
    if (pause && typeof to === 'string' && basename(to) === 'secrets.json') {
      writeFileSync(join(marks, `paused-${process.pid}`), '');
      const lock = `${to}.lock`;
      while (!fs.existsSync(join(marks, 'go'))) {
        // a live holder at work, not one stopped: its lock kept fresh (untouched for
        // SECRETS_LOCK_STALE_MS, 10 s, another process takes it over), however long the other
        // process takes to come (its boot on a loaded machine)
        try {
          const now = new Date();
          fs.utimesSync(lock, now, now);
        } catch {
          // no lock (the code before it): nothing to keep fresh
        }
        Atomics.wait(sleeper, 0, 0, 20);
      }
    }
    return renameSync.call(this, from, to);
  };
}
