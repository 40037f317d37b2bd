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
// the young generation keeps its first size until the server listens (apps/api/src/boot-heap.ts,
// which sets this again for the other ways of starting it, and sets V8's default back once
// listening): from here, so that reading and compiling the bundle runs with it too (~4 MiB of
// idle RSS more than from the bundle's first module; docs/benchmarks.md, "bootlean"). Not when
// the operator set the young generation's flags (`--semi-space-growth-factor` on node's command
// line, as Node refuses it in NODE_OPTIONS; `--max-semi-space-size` there or in NODE_OPTIONS; in
// any spelling V8 accepts: one dash or two, `_` or `-`), nor on a debug build of V8 or a release
// one with DCHECKs on: the same test as boot-heap.ts's bootHeapPlan(), which sets it back. A value
// set by a `-r` preload with v8.setFlagsFromString cannot be seen and is overwritten.
{
  const options = [
    ...(process.env.NODE_OPTIONS || '').split(/\s+/).map((o) => o.replace(/["']/g, '')),
    ...process.execArgv,
  ];
  const name = (o) => o.split('=', 1)[0].replace(/^--?/, '--').replace(/_/g, '-');
  const sets = (flag) => options.some((o) => o && name(o) === `--${flag}`);
  const on = (value) => [1, true, '1', 'true'].includes(value);
  const variables = process.config.variables || {};
  const release =
    process.config.target_defaults?.default_configuration !== 'Debug' &&
    !on(variables.dcheck_always_on) &&
    !on(variables.is_debug);
  if (release && !sets('semi-space-growth-factor') && !sets('max-semi-space-size')) {
    require('node:v8').setFlagsFromString('--semi-space-growth-factor=1');
  }
}
const { closeSync, openSync, readSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const { StringDecoder } = require('node:string_decoder');
const { installResolveCache } = require('./resolve-cache');

// the packages of the boot are resolved within its first second; a slower boot records (or
// uses) a part of them, the rest resolved as Node does
const resolveCache = installResolveCache(__dirname);
setTimeout(() => {
  resolveCache.settle();
  keepFreedMemory();
}, 1000).unref();

// Once the boot is done, glibc's malloc is told to keep what the requests free for their
// next ones. Its defaults (a block of 128 KiB or more mapped afresh; 128 KiB or more free at
// the top of the heap given back) serve a vault read as new pages every time: each read holds
// its file's plaintext (16 x 1 MiB for a 16 MiB file, VAULT_READ_HOLD_BYTES) until it is sent,
// and once it is freed it goes back to the system, to be faulted in (zeroed) again by the
// next read: ~70 page faults per MiB read, read CPU 2-3x the same code's under the TypeScript
// hook (docs/benchmarks.md, "vaultdist"). glibc raises both thresholds when a mapped block
// larger than its threshold is freed (the mapping one to the block's size, up to 32 MiB; the
// trimming one to twice that), which nothing else here can set from JavaScript: one block of
// 31 MiB, never written (so never resident), dropped; the GC that collects it frees it. Under
// the hook (the benches' and tests' servers) typescript.js's read did the same by chance; the
// bundle is read 64 KiB at a time for the boot's RSS (above), which left the defaults. Done
// after the boot, so what the boot freed went back as before (the idle RSS is unchanged).
function keepFreedMemory() {
  Buffer.allocUnsafeSlow(31 * 1024 * 1024);
}

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
