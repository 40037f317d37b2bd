'use strict';
// The build's package-resolution record: boots the built API once, as the image starts it
// (plain `node main.js`, SQLite, a throwaway DATA_DIR), until its first `/health` 200, and
// writes every resolution of that boot to `resolutions.json` next to main.js
// (scripts/support/resolve-cache.js says what it holds and when a boot uses it). The last step
// of `npm run build:api`, and of the Dockerfile's build stage after `npm prune --omit=dev`
// (the record is filed under the content of npm's lockfile, which the prune rewrites).
//
// Plain JavaScript with Node's modules only: it runs where the dev dependencies are gone.
// A boot that fails here writes no record and this exits 0 with a warning: the API then boots
// as without one (Node's own search, recorded by its first boot in the temp directory).
//
//   node scripts/support/record-resolutions.js [path/to/main.js]
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { dirname, join, relative, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist/apps/api/apps/api/src/main.js');
const TIMEOUT_MS = 120_000;

/** In the booted process: record, run main.js, wait for its first `/health` 200, write. */
async function boot(main) {
  const { recordResolutions } = require('./resolve-cache');
  const recording = recordResolutions(dirname(main));
  // main.js's own copy of the cache stays out of the way: each resolution is Node's search
  process.env.MDAI_RESOLVE_CACHE = 'off';
  require(main);
  const deadline = Date.now() + TIMEOUT_MS;
  while ((await health(Number(process.env.PORT))) !== 200) {
    if (Date.now() > deadline) throw new Error('no /health 200');
    await new Promise((done) => setTimeout(done, 20));
  }
  recording.write();
  process.exit(0);
}

function health(port) {
  return new Promise((done) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode));
    });
    request.on('error', () => done(0));
    request.setTimeout(2000, () => request.destroy());
  });
}

function freePort() {
  return new Promise((done, fail) => {
    const server = net.createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** Boots main.js in a process of its own (no flags: the digest covers them) and reports. */
async function record(main) {
  const record = join(dirname(main), 'resolutions.json');
  fs.rmSync(record, { force: true });
  const scratch = fs.mkdtempSync(join(tmpdir(), 'mdai-record-resolutions-'));
  try {
    fs.mkdirSync(join(scratch, 'tmp'));
    // as the image runs it: no flags, no NODE_OPTIONS (the record is filed under both)
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const run = spawnSync(process.execPath, [__filename, '--boot', main], {
      cwd: ROOT,
      env: {
        ...env,
        NODE_ENV: 'development',
        PORT: String(await freePort()),
        DATA_DIR: join(scratch, 'data'),
        TMPDIR: join(scratch, 'tmp'),
        DATABASE_URL: '',
        REDIS_URL: '',
        MDAI_RESOLVE_CACHE: '',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
      timeout: TIMEOUT_MS + 10_000,
      killSignal: 'SIGKILL',
    });
    if (run.status !== 0 || !fs.existsSync(record)) {
      // the last line of the boot's error that is not a stack frame
      const said = run.stderr
        .split('\n')
        .filter((line) => line.trim() !== '' && !/^\s/.test(line))
        .pop();
      const why = run.error?.message ?? said ?? `exit ${run.status}`;
      process.stderr.write(
        `resolutions not recorded (${why}): the API boots without them (Node's own search)\n`,
      );
      fs.rmSync(record, { force: true });
      return;
    }
    const { entries } = JSON.parse(fs.readFileSync(record, 'utf8'));
    process.stdout.write(
      `${entries.length} package resolutions recorded in ${relative(process.cwd(), record)}\n`,
    );
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--boot') {
  boot(resolve(process.argv[3])).catch((error) => {
    process.stderr.write(`${error?.stack ?? String(error)}\n`);
    process.exit(1);
  });
} else {
  record(resolve(process.argv[2] ?? MAIN)).catch((error) => {
    process.stderr.write(`resolutions not recorded: ${String(error)}\n`);
  });
}
