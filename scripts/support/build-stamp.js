'use strict';
// Whether dist/ was built from the sources as they are now, so `npm start` builds only when
// something that goes into the build changed (a build is ~45 s here; a start from a current
// build is the server's own ~1 s).
//
// The stamp (dist/.build-stamp) is a SHA-256 over what the build reads: every file under
// apps/, libs/ and scripts/ but the specs (path and content), the root's package.json,
// package-lock.json, tsconfig.json and nest-cli.json, the installed tree's lockfile
// (node_modules/.package-lock.json: a new `npm ci` builds again) and Node's version.
// `npm run build` clears it first and writes it last, so a build that failed half-way never
// counts as current; the fingerprint written is the one taken when the build started (kept in
// dist/.build-stamp.pending), so a source edited during the build is not stamped as built.
//
//   node scripts/support/build-stamp.js check   exit 0 when dist is current, 1 when not
//   node scripts/support/build-stamp.js clear   (the first step of npm run build)
//   node scripts/support/build-stamp.js write   (the last step of npm run build)
//
// Plain JavaScript with Node's modules only: it runs before anything is built.
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const { join, relative, resolve, sep } = require('node:path');

const SOURCE_DIRS = ['apps', 'libs', 'scripts'];
const ROOT_FILES = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'nest-cli.json',
  'node_modules/.package-lock.json',
];
/** What the build produces and a start needs: a stamp without them is not current. */
const OUTPUTS = ['dist/apps/api/apps/api/src/main.js', 'dist/console/index.html'];
const STAMP = 'dist/.build-stamp';
const PENDING = 'dist/.build-stamp.pending';

/** Specs and contract specs: tests only, never in the build. */
function isSpec(name) {
  return /\.(spec|contract-spec)\.ts$/.test(name);
}

function filesUnder(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile() && !isSpec(entry.name)) out.push(path);
  }
  return out;
}

/** The fingerprint of the build's inputs in `root`. */
function fingerprint(root) {
  const files = [];
  for (const dir of SOURCE_DIRS) {
    if (fs.existsSync(join(root, dir))) files.push(...filesUnder(join(root, dir)));
  }
  for (const file of ROOT_FILES) {
    if (fs.existsSync(join(root, file))) files.push(join(root, file));
  }
  const hash = createHash('sha256').update(`node ${process.version}\n`);
  for (const file of files.map((f) => relative(root, f).split(sep).join('/')).sort()) {
    const content = fs.readFileSync(join(root, file));
    hash.update(`${file}\0${content.length}\0`).update(content);
  }
  return hash.digest('hex');
}

/** True when `root`'s dist was built from its sources as they are now. */
function isCurrent(root) {
  if (!OUTPUTS.every((file) => fs.existsSync(join(root, file)))) return false;
  let stamp;
  try {
    stamp = fs.readFileSync(join(root, STAMP), 'utf8').trim();
  } catch {
    return false;
  }
  return stamp === fingerprint(root);
}

/** The end of a build: the fingerprint taken at its start (clearStamp) becomes the stamp. */
function writeStamp(root) {
  fs.mkdirSync(join(root, 'dist'), { recursive: true });
  let started;
  try {
    started = fs.readFileSync(join(root, PENDING), 'utf8');
  } catch {
    started = `${fingerprint(root)}\n`; // a build that did not clear first: as it is now
  }
  fs.writeFileSync(join(root, STAMP), started);
  fs.rmSync(join(root, PENDING), { force: true });
}

/** The start of a build: no stamp until it ends; the inputs' fingerprint as they are now. */
function clearStamp(root) {
  fs.rmSync(join(root, STAMP), { force: true });
  fs.mkdirSync(join(root, 'dist'), { recursive: true });
  fs.writeFileSync(join(root, PENDING), `${fingerprint(root)}\n`);
}

module.exports = { fingerprint, isCurrent, writeStamp, clearStamp, STAMP };

if (require.main === module) {
  const root = resolve(__dirname, '..', '..');
  const command = process.argv[2];
  if (command === 'check') {
    if (isCurrent(root)) {
      console.log('dist/ is current (built from these sources): starting without a build');
      process.exit(0);
    }
    console.log('dist/ is missing or older than the sources: building first');
    process.exit(1);
  } else if (command === 'write') {
    writeStamp(root);
  } else if (command === 'clear') {
    clearStamp(root);
  } else {
    console.error('usage: node scripts/support/build-stamp.js check|write|clear');
    process.exit(2);
  }
}
