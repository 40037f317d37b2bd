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
// Where the record comes from:
// - the build's (`resolutions.json` next to main.js): `npm run build:api`, and the Dockerfile
//   after its `npm prune`, boot the built API once (scripts/support/record-resolutions.js) and
//   write every resolution of that boot, up to its first `/health` answer, with paths relative
//   to the app directory and node_modules, filed under a digest of the *content* of npm's
//   lockfile (copying the tree into another image stage keeps it; a prune or install rewrites
//   it). So a fresh container's first boot searches for nothing either (docs/benchmarks.md,
//   "coldboot"). Used when that digest is this tree's; anything else falls to the next kind.
// - an earlier boot's, in the temp directory (below), when there is no build record or it is
//   not this tree's (a `npm install` after the build).
//
// When a record in the temp directory is used:
// - only for the node_modules it was made with: its file name is a digest of npm's own
//   record of that tree (`node_modules/.package-lock.json`, rewritten by every npm install,
//   ci, prune or uninstall: its size, mtime and inode), of the directory the API runs from,
//   the Node version, its flags, NODE_OPTIONS and NODE_PATH. No lockfile there (another
//   installer): no record.
// - only from a directory of this user's, mode 0700, in the system temp directory (the
//   image's /app is read-only to the user the API runs as); a file there not owned by this
//   user, or writable by others, is ignored, and so is any entry whose file is outside that
//   node_modules. A file that is gone since (someone deleted it by hand) is resolved as before.
// - a record that cannot be read, parsed or written is no record: the boot goes on as Node's
//   own (this is a cache; it never makes a boot fail). The same holds for the build's record
//   (not this tree's, unreadable, or writable by others: not used; an entry outside the app
//   directory or node_modules: ignored).
// MDAI_RESOLVE_CACHE=off turns both off (every resolution is Node's own).
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const { tmpdir } = require('node:os');
const { basename, dirname, join, sep } = require('node:path');
const { StringDecoder } = require('node:string_decoder');

const FORMAT = 2;
/** The build's record, next to main.js. */
const SHIPPED = 'resolutions.json';

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
          process.env.NODE_OPTIONS ?? '',
          appDir,
          root,
          lock.size,
          lock.mtimeMs,
          lock.ino,
        ].join('\n'),
      )
      .digest('hex')
      .slice(0, 32);
    return { root, digest, lockFile: join(dir, '.package-lock.json') };
  }
  return undefined;
}

/**
 * A file's text read 64 KiB at a time (npm's lockfile and the records are 0.1-0.4 MiB: one
 * read that size would raise glibc's mmap threshold for the rest of the process, +3-4 MiB of
 * idle RSS, docs/benchmarks.md "bootfast2").
 */
function readText(fd) {
  const chunk = Buffer.allocUnsafe(64 * 1024);
  const decoder = new StringDecoder('utf8');
  let text = '';
  for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0;) {
    text += decoder.write(chunk.subarray(0, n));
  }
  return text + decoder.end();
}

/**
 * What a build record is filed under: the content of npm's lockfile (not its inode or mtime,
 * which a copy into another image stage changes), the Node version, its flags, NODE_OPTIONS and
 * NODE_PATH.
 */
function contentDigest(lockFile) {
  const hash = createHash('sha256').update(
    [
      FORMAT,
      process.version,
      process.execArgv.join(' '),
      process.env.NODE_PATH ?? '',
      process.env.NODE_OPTIONS ?? '',
    ].join('\n'),
  );
  const chunk = Buffer.allocUnsafe(64 * 1024);
  const fd = fs.openSync(lockFile, 'r');
  try {
    for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0;) {
      hash.update(chunk.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** A path of a record relative to `base`, or undefined when it would leave it. */
function under(base, relative) {
  return typeof relative === 'string' &&
    relative !== '' &&
    !relative.startsWith('/') &&
    relative !== '..' &&
    !relative.startsWith(`..${sep}`) &&
    !relative.includes(`${sep}..${sep}`) &&
    !relative.endsWith(`${sep}..`)
    ? base + sep + relative
    : undefined;
}

/** The lookup (directory → request → file) of a record's dirs, files and entries. */
function toLookup(record, dirPath, filePath) {
  const { dirs, files, entries } = record ?? {};
  if (record?.v !== FORMAT || ![dirs, files, entries].every(Array.isArray)) return undefined;
  // each path built once, shared by the entries naming it
  const dirPaths = dirs.map(dirPath);
  const paths = files.map(filePath);
  const lookup = new Map();
  for (const entry of entries) {
    if (!Array.isArray(entry)) continue;
    const [dir, request, index] = entry;
    const from = dirPaths[dir];
    const filename = paths[index];
    if (typeof from !== 'string' || typeof request !== 'string' || typeof filename !== 'string') {
      continue;
    }
    let byRequest = lookup.get(from);
    if (!byRequest) lookup.set(from, (byRequest = new Map()));
    byRequest.set(request, filename);
  }
  return lookup;
}

/**
 * The build's record in `file` as a lookup, or undefined: none, not this tree's (`lockFile`'s
 * content digest differs), writable by others, or unreadable. Its directories are `null` (the
 * app directory) or relative to node_modules; its files relative to node_modules.
 */
function readShipped(file, appDir, root, lockFile) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    // the app directory's own file (owned by whoever installed the app, as main.js is), but
    // not one anybody can write
    if ((fs.fstatSync(fd).mode & 0o002) !== 0) return undefined;
    const record = JSON.parse(readText(fd));
    if (record?.digest !== contentDigest(lockFile)) return undefined;
    return toLookup(
      record,
      (dir) => (dir === null ? appDir : under(root, dir)),
      (relative) => under(root, relative),
    );
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
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
    return toLookup(
      JSON.parse(readText(fd)),
      (dir) => dir,
      (relative) => under(root, relative),
    );
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes the record atomically (a temp file renamed over it), 0600. */
function writeRecord(file, resolved) {
  const { dirs, files, entries } = toArrays(resolved, (from) => from);
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
  try {
    for (const name of fs.readdirSync(dir)) {
      if (name.startsWith(`${app}-`) && name.endsWith('.json') && join(dir, name) !== file) {
        fs.rmSync(join(dir, name), { force: true });
      }
    }
  } catch {
    // left for the next record to remove
  }
}

/** The (directory → request → file under `root`) map of a recording as a record's arrays. */
function toArrays(resolved, dirOf) {
  const dirs = [];
  const files = [];
  const fileIndex = new Map();
  const entries = [];
  for (const [from, byRequest] of resolved) {
    const name = dirOf(from);
    if (name === undefined) continue;
    const dir = dirs.push(name) - 1;
    for (const [request, relative] of byRequest) {
      let index = fileIndex.get(relative);
      if (index === undefined) fileIndex.set(relative, (index = files.push(relative) - 1));
      entries.push([dir, request, index]);
    }
  }
  return { dirs, files, entries };
}

/**
 * Puts a resolver in front of Node's that answers from `lookup` (when given, checking that the
 * file is still there) and, when `onSettle` is given, records Node's answers under `root` for
 * it. Returns settle(): hands over the recording and leaves every later resolution to Node.
 */
function intercept(root, lookup, onSettle) {
  const prefix = root + sep;
  let recorded = onSettle ? new Map() : undefined;
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
  return () => {
    if (recorded !== undefined && recorded.size > 0) onSettle(recorded);
    recorded = undefined;
    lookup = undefined;
    if (Module._resolveFilename === resolveFilename) Module._resolveFilename = resolve;
  };
}

/**
 * Answers the API's resolutions from the build's record, or an earlier boot's, or records this
 * boot's. `settle` ends it: the record is written (a first boot without a build record) or let
 * go; every later resolution is Node's own. Returns `{ settle, mode }` (`mode`: 'shipped' (the
 * build's record), 'use' (an earlier boot's), 'record' or 'off').
 */
function installResolveCache(appDir, options = {}) {
  const off = { mode: 'off', settle() {} };
  if (process.env.MDAI_RESOLVE_CACHE === 'off') return off;
  let found;
  try {
    found = installation(appDir);
  } catch {
    found = undefined;
  }
  if (!found) return off;
  const { root, digest, lockFile } = found;
  const shipped = readShipped(join(appDir, SHIPPED), appDir, root, lockFile);
  if (shipped) return { mode: 'shipped', settle: intercept(root, shipped) };
  let dir;
  try {
    dir = cacheDir(options.cacheBase ?? tmpdir());
  } catch {
    dir = undefined;
  }
  if (!dir) return off;
  // `<app>-<installation>.json`: a new record of the app replaces its older ones
  const app = createHash('sha256').update(appDir).digest('hex').slice(0, 16);
  const file = join(dir, `${app}-${digest}.json`);
  const lookup = readRecord(file, root);
  return lookup
    ? { mode: 'use', settle: intercept(root, lookup) }
    : {
        mode: 'record',
        settle: intercept(root, undefined, (recorded) => writeRecord(file, recorded)),
      };
}

/**
 * The build's side (scripts/support/record-resolutions.js): records every resolution from now
 * on, Node's own search each time. `write()` writes them as the build's record next to main.js
 * (`resolutions.json` in `appDir`) and stops recording; it throws when there is nothing to
 * record (no npm lockfile in the nearest node_modules) or the file cannot be written.
 */
function recordResolutions(appDir) {
  const found = installation(appDir);
  if (!found) throw new Error(`no npm-installed node_modules for ${appDir}`);
  const { root, lockFile } = found;
  let recorded;
  const settle = intercept(root, undefined, (resolved) => (recorded = resolved));
  return {
    file: join(appDir, SHIPPED),
    write() {
      settle();
      if (recorded === undefined) throw new Error('no package was resolved');
      const prefix = root + sep;
      const record = toArrays(recorded, (from) =>
        from === appDir ? null : from.startsWith(prefix) ? from.slice(prefix.length) : undefined,
      );
      const file = join(appDir, SHIPPED);
      const temp = `${file}.${process.pid}.tmp`;
      try {
        fs.writeFileSync(
          temp,
          JSON.stringify({ v: FORMAT, digest: contentDigest(lockFile), ...record }),
          { mode: 0o644 },
        );
        fs.renameSync(temp, file);
      } finally {
        fs.rmSync(temp, { force: true });
      }
      return { file, entries: record.entries.length };
    },
  };
}

module.exports = { installResolveCache, recordResolutions, SHIPPED };
