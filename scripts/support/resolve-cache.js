'use strict';
// Node's module resolution for the built API, remembered from one boot to the next.
//
// Every `require` of a package file is resolved by Node's CommonJS loader: stat calls on the
// candidate paths, package.json reads, a realpath of the result. At boot the API requires
// ~970 package files (~1,700 resolutions), and that search is ~15% of its boot CPU
// (docs/benchmarks.md, "boot3"), while its answer cannot change unless node_modules does.
// So the first boot records each (requiring directory, request) → file it resolved, and
// later boots answer those from the record. Anything not in the record (a new require, a
// package loaded on first use, a `require.resolve` with options) is resolved as before.
//
// When a record is used:
// - only for the node_modules it was made with: its file name is a digest of npm's own
//   record of that tree (`node_modules/.package-lock.json`, rewritten by every npm install,
//   ci, prune or uninstall: its size, mtime and inode), of the directory the API runs from,
//   the Node version, its flags and NODE_PATH. No lockfile there (another installer): no record.
// - only from a directory of this user's, mode 0700, in the system temp directory (the
//   image's /app is read-only to the user the API runs as); a file there not owned by this
//   user, or writable by others, is ignored, and so is any entry whose file is outside that
//   node_modules. A file that is gone since (someone deleted it by hand) is resolved as before.
// - a record that cannot be read, parsed or written is no record: the boot goes on as Node's
//   own (this is a cache; it never makes a boot fail).
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const { tmpdir } = require('node:os');
const { basename, dirname, join, sep } = require('node:path');

const FORMAT = 2;

/**
 * The npm-installed node_modules the API in `appDir` resolves its packages from, and the
 * digest a record made with it is filed under; undefined when there is none.
 */
function installation(appDir) {
  for (const dir of Module._nodeModulePaths(appDir)) {
    let lock;
    try {
      lock = fs.statSync(join(dir, '.package-lock.json'));
    } catch {
      if (fs.existsSync(dir)) return undefined; // the nearest node_modules, not npm's
      continue;
    }
    const root = fs.realpathSync(dir);
    const digest = createHash('sha256')
      .update(
        [
          FORMAT,
          process.version,
          process.execArgv.join(' '),
          process.env.NODE_PATH ?? '',
          appDir,
          root,
          lock.size,
          lock.mtimeMs,
          lock.ino,
        ].join('\n'),
      )
      .digest('hex')
      .slice(0, 32);
    return { root, digest };
  }
  return undefined;
}

/** This user's cache directory, created 0700; undefined when it is not safely ours. */
function cacheDir(base) {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const dir = join(base, `mdai-resolve-${uid ?? 'user'}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const info = fs.lstatSync(dir);
  if (!info.isDirectory() || (info.mode & 0o077) !== 0) return undefined;
  if (uid !== undefined && info.uid !== uid) return undefined;
  return dir;
}

/** The record in `file` as a lookup (directory → request → file), or undefined. */
function readRecord(file, root) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const info = fs.fstatSync(fd);
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    if ((uid !== undefined && info.uid !== uid) || (info.mode & 0o022) !== 0) return undefined;
    const record = JSON.parse(fs.readFileSync(fd, 'utf8'));
    const { dirs, files, entries } = record ?? {};
    if (record?.v !== FORMAT || ![dirs, files, entries].every(Array.isArray)) return undefined;
    // each file's path built once, shared by the entries naming it
    const paths = files.map((relative) =>
      typeof relative === 'string' &&
      !relative.startsWith('..') &&
      !relative.includes(`${sep}..${sep}`)
        ? root + sep + relative
        : undefined,
    );
    const lookup = new Map();
    for (const [dir, request, index] of entries) {
      const from = dirs[dir];
      const filename = paths[index];
      if (typeof from !== 'string' || typeof request !== 'string' || filename === undefined) {
        continue;
      }
      let byRequest = lookup.get(from);
      if (!byRequest) lookup.set(from, (byRequest = new Map()));
      byRequest.set(request, filename);
    }
    return lookup;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes the record atomically (a temp file renamed over it), 0600. */
function writeRecord(file, resolved) {
  const dirs = [];
  const files = [];
  const fileIndex = new Map();
  const entries = [];
  for (const [from, byRequest] of resolved) {
    const dir = dirs.push(from) - 1;
    for (const [request, relative] of byRequest) {
      let index = fileIndex.get(relative);
      if (index === undefined) fileIndex.set(relative, (index = files.push(relative) - 1));
      entries.push([dir, request, index]);
    }
  }
  const temp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, JSON.stringify({ v: FORMAT, dirs, files, entries }), { mode: 0o600 });
    fs.renameSync(temp, file);
  } catch {
    fs.rmSync(temp, { force: true });
    return;
  }
  // the app's records of earlier node_modules trees will not be used again
  const dir = dirname(file);
  const app = basename(file).split('-')[0];
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(`${app}-`) && name.endsWith('.json') && join(dir, name) !== file) {
      fs.rmSync(join(dir, name), { force: true });
    }
  }
}

/**
 * Answers the API's resolutions from the record of an earlier boot, or records this boot's.
 * `settle` ends it: the record is written (first boot) or let go (later boots); every later
 * resolution is Node's own. Returns `{ settle, mode }` (`mode`: 'use', 'record' or 'off').
 */
function installResolveCache(appDir, options = {}) {
  let found;
  let dir;
  try {
    found = installation(appDir);
    dir = found && cacheDir(options.cacheBase ?? tmpdir());
  } catch {
    found = undefined;
  }
  if (!found || !dir) return { mode: 'off', settle() {} };
  const { root, digest } = found;
  const prefix = root + sep;
  // `<app>-<installation>.json`: a new record of the app replaces its older ones
  const app = createHash('sha256').update(appDir).digest('hex').slice(0, 16);
  const file = join(dir, `${app}-${digest}.json`);
  let lookup = readRecord(file, root);
  let recorded = lookup ? undefined : new Map();
  const resolve = Module._resolveFilename;
  const resolveFilename = function (request, parent, isMain, opts) {
    const from = opts === undefined ? parent?.path : undefined;
    if (lookup !== undefined && from !== undefined) {
      const filename = lookup.get(from)?.get(request);
      // a file deleted by hand since the record: Node's own search (and its error)
      if (filename !== undefined && fs.existsSync(filename)) return filename;
    }
    const filename = resolve.apply(this, arguments);
    if (recorded !== undefined && from !== undefined && filename.startsWith(prefix)) {
      let byRequest = recorded.get(from);
      if (!byRequest) recorded.set(from, (byRequest = new Map()));
      byRequest.set(request, filename.slice(prefix.length));
    }
    return filename;
  };
  Module._resolveFilename = resolveFilename;
  return {
    mode: lookup ? 'use' : 'record',
    settle() {
      if (recorded !== undefined && recorded.size > 0) writeRecord(file, recorded);
      recorded = undefined;
      lookup = undefined;
      if (Module._resolveFilename === resolveFilename) Module._resolveFilename = resolve;
    },
  };
}

module.exports = { installResolveCache };
