'use strict';
// dist/apps/api/apps/api/src/main.js, written by scripts/bundle-api.ts: runs the API bundle
// (api.js, next to this file) as Node's loader would run it as a module of its own (same
// filename, module paths, require.cache entry, source map with --enable-source-maps), with
// one difference: its ~1 MiB of source is read 64 KiB at a time. Node's loader reads a file
// in one allocation; freeing one that size raises glibc's mmap threshold for the rest of the
// process, and the boot's later allocations then stay in the heap instead of going back to
// the system: +3-4 MiB of idle RSS (docs/benchmarks.md, "bootfast2").
// Before it runs, the package resolutions of the build's boot (resolutions.json, next to this
// file) or of an earlier boot are put back (resolve-cache.js, bundled into main.js by
// scripts/bundle-api.ts): ~15% of boot CPU (docs/benchmarks.md, "boot3" and "coldboot").
const { closeSync, openSync, readSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const { StringDecoder } = require('node:string_decoder');
const { installResolveCache } = require('./resolve-cache');

// the packages of the boot are resolved within its first second; a slower boot records (or
// uses) a part of them, the rest resolved as Node does
const resolveCache = installResolveCache(__dirname);
setTimeout(() => resolveCache.settle(), 1000).unref();

const file = join(__dirname, 'api.js');
const chunk = Buffer.allocUnsafeSlow(64 * 1024);
const decoder = new StringDecoder('utf8');
const parts = [];
const fd = openSync(file, 'r');
try {
  for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0;) {
    parts.push(decoder.write(chunk.subarray(0, n)));
  }
  parts.push(decoder.end());
} finally {
  closeSync(fd);
}
const api = new Module(file, module);
api.filename = file;
api.paths = Module._nodeModulePaths(__dirname);
require.cache[file] = api;
api._compile(parts.join(''), file);
api.loaded = true;
