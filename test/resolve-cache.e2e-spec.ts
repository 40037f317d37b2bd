import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * scripts/support/resolve-cache.js (run by the built main.js): a small npm-installed app in a
 * temp directory, booted in a fresh node process each time, as main.js boots the API.
 */
describe('resolve cache (e2e)', () => {
  const CACHE_MODULE = join(__dirname, '..', 'scripts', 'support', 'resolve-cache.js');
  const RECORD_SCRIPT = join(__dirname, '..', 'scripts', 'support', 'record-resolutions.js');
  let root: string;
  let app: string;
  let cacheBase: string;

  const write = (path: string, text: string) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'mdai-resolve-'));
    app = join(root, 'app');
    cacheBase = join(root, 'cache');
    const modules = join(app, 'node_modules');
    write(join(modules, '.package-lock.json'), '{"lockfileVersion":3}');
    write(join(modules, 'pkg-a', 'package.json'), '{"name":"pkg-a","main":"lib/a.js"}');
    write(
      join(modules, 'pkg-a', 'lib', 'a.js'),
      "module.exports = require('./helper') + require('pkg-b');",
    );
    write(join(modules, 'pkg-a', 'lib', 'helper.js'), "module.exports = 'a';");
    write(join(modules, 'pkg-b', 'package.json'), '{"name":"pkg-b"}');
    write(join(modules, 'pkg-b', 'index.js'), "module.exports = 'b';");
    write(join(root, 'evil.js'), "module.exports = 'evil';");
    // what main.js does: install, require the packages, settle; prints what happened
    write(
      join(app, 'dist', 'main.js'),
      `const Module = require('node:module');
let searches = 0;
const findPath = Module._findPath;
Module._findPath = function () { searches++; return findPath.apply(this, arguments); };
const cache = require(${JSON.stringify(CACHE_MODULE)}).installResolveCache(__dirname, { cacheBase: ${JSON.stringify(cacheBase)} });
searches = 0;
const value = require('pkg-a');
cache.settle();
const loaded = Object.keys(require.cache).filter((f) => f.includes('node_modules') || f.endsWith('evil.js'));
// booted by the build's recording (scripts/support/record-resolutions.js): serves /health
if (process.env.PORT) require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
else process.stdout.write(JSON.stringify({ mode: cache.mode, value, searches, loaded }));`,
    );
  });

  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function boot(
    dir = app,
    extra: NodeJS.ProcessEnv = {},
  ): { mode: string; value: string; searches: number; loaded: string[] } {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_PATH: '', ...extra };
    delete env.PORT;
    delete env.NODE_OPTIONS;
    const run = spawnSync(process.execPath, [join(dir, 'dist', 'main.js')], {
      encoding: 'utf8',
      env,
    });
    expect(run.stderr).toBe('');
    return JSON.parse(run.stdout) as ReturnType<typeof boot>;
  }

  const recordFile = () => {
    const dir = join(cacheBase, readdirSync(cacheBase)[0]);
    return join(
      dir,
      readdirSync(dir).find((f) => f.endsWith('.json'))!,
    );
  };

  it('should answer a later boot’s resolutions from the first boot’s record, loading the same files', () => {
    const first = boot();
    expect(first).toMatchObject({ mode: 'record', value: 'ab' });
    expect(first.searches).toBeGreaterThan(0);
    const second = boot();
    expect(second).toEqual({ ...first, mode: 'use', searches: 0 });
    // the directory is the user's alone, and so is the record
    expect(readdirSync(cacheBase)).toHaveLength(1);
    const dir = join(cacheBase, readdirSync(cacheBase)[0]);
    expect(statMode(dir)).toBe(0o700);
    expect(statMode(recordFile())).toBe(0o600);
  });

  it('should make a new record when npm changed node_modules (its lockfile rewritten)', () => {
    boot();
    write(join(app, 'node_modules', '.package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
    const after = boot();
    expect(after.mode).toBe('record');
    expect(after.searches).toBeGreaterThan(0);
    // the new record replaces the old one
    const dir = join(cacheBase, readdirSync(cacheBase)[0]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toHaveLength(1);
    expect(boot()).toMatchObject({ mode: 'use', searches: 0 });
  });

  it('should search as Node does for a recorded file that is gone', () => {
    boot();
    const pkg = join(app, 'node_modules', 'pkg-b');
    renameSync(join(pkg, 'index.js'), join(pkg, 'main.js'));
    write(join(pkg, 'package.json'), '{"name":"pkg-b","main":"main.js"}');
    const later = boot();
    expect(later).toMatchObject({ mode: 'use', value: 'ab' });
    expect(later.loaded).toContain(join(pkg, 'main.js'));
    expect(later.searches).toBe(1);
  });

  it('should not use a record others can write, nor a cache directory others can enter', () => {
    boot();
    chmodSync(recordFile(), 0o666);
    expect(boot()).toMatchObject({ mode: 'record', value: 'ab' });
    chmodSync(join(cacheBase, readdirSync(cacheBase)[0]), 0o777);
    expect(boot()).toMatchObject({ mode: 'off', value: 'ab' });
  });

  it('should ignore a recorded file outside node_modules', () => {
    boot();
    const file = recordFile();
    const record = JSON.parse(readFileSync(file, 'utf8')) as {
      files: string[];
      entries: Array<[number, string, number]>;
    };
    for (const entry of record.entries) {
      if (entry[1] === 'pkg-b') entry[2] = record.files.push('../../evil.js') - 1;
    }
    writeFileSync(file, JSON.stringify(record), { mode: 0o600 });
    const later = boot();
    expect(later.value).toBe('ab');
    expect(later.loaded.some((f) => f.endsWith('evil.js'))).toBe(false);
  });

  it('should record nothing without npm’s lockfile in the nearest node_modules', () => {
    rmSync(join(app, 'node_modules', '.package-lock.json'));
    expect(boot()).toMatchObject({ mode: 'off', value: 'ab' });
    expect(boot().searches).toBeGreaterThan(0);
  });

  describe('the build’s record (resolutions.json next to main.js)', () => {
    const shipped = () => join(app, 'dist', 'resolutions.json');

    /** What `npm run build:api` and the Dockerfile run after the bundle. */
    function record(): { status: number | null; stdout: string; stderr: string } {
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.PORT;
      return spawnSync(process.execPath, [RECORD_SCRIPT, join(app, 'dist', 'main.js')], {
        encoding: 'utf8',
        env,
      });
    }

    it('should answer a fresh boot (empty temp dir) from the build’s record, with no search and no record of its own', () => {
      const searched = boot(app, { MDAI_RESOLVE_CACHE: 'off' });
      expect(searched).toMatchObject({ mode: 'off', value: 'ab' });
      const run = record();
      expect(run).toMatchObject({ status: 0, stderr: '' });
      expect(run.stdout).toMatch(/^\d+ package resolutions recorded in /);
      expect(statMode(shipped())).toBe(0o644);
      expect(boot()).toEqual({ ...searched, mode: 'shipped', searches: 0 });
      // nothing written to the temp directory: the build's record is the answer every time
      expect(existsSync(cacheBase)).toBe(false);
    });

    it('should still answer from it in a copy of the tree (a later image stage: new inodes and mtimes, same lockfile)', () => {
      expect(record().status).toBe(0);
      const copy = join(root, 'runtime');
      cpSync(app, copy, { recursive: true });
      utimesSync(join(copy, 'node_modules', '.package-lock.json'), new Date(0), new Date(0));
      const later = boot(copy);
      expect(later).toMatchObject({ mode: 'shipped', value: 'ab', searches: 0 });
      expect(later.loaded.every((file) => file.startsWith(`${copy}/`))).toBe(true);
    });

    it('should not use a build record of another tree (made before an npm prune or install) and search instead', () => {
      expect(record().status).toBe(0);
      // npm put a new pkg-b in place whose entry point moved; the old file is still there
      const pkg = join(app, 'node_modules', 'pkg-b');
      write(join(pkg, 'package.json'), '{"name":"pkg-b","main":"main.js"}');
      write(join(pkg, 'main.js'), "module.exports = 'B';");
      write(join(app, 'node_modules', '.package-lock.json'), '{"lockfileVersion":3,"v":2}');
      expect(boot()).toMatchObject({ mode: 'record', value: 'aB' });
      expect(boot()).toMatchObject({ mode: 'use', value: 'aB', searches: 0 });
    });

    it('should boot as Node does from a build record that is damaged, or writable by others', () => {
      expect(record().status).toBe(0);
      const good = readFileSync(shipped(), 'utf8');
      const { digest } = JSON.parse(good) as { digest: string };
      for (const text of [
        good.slice(0, good.length / 2),
        'null',
        '[]',
        JSON.stringify({ v: 1, digest, dirs: [], files: [], entries: [] }),
      ]) {
        writeFileSync(shipped(), text);
        rmSync(cacheBase, { recursive: true, force: true });
        expect(boot()).toMatchObject({ mode: 'record', value: 'ab' });
      }
      // this tree's, with entries of every wrong shape (each ignored, searched for instead) and
      // one good one (pkg-b from pkg-a's lib: answered)
      const searched = boot(app, { MDAI_RESOLVE_CACHE: 'off' }).searches;
      writeFileSync(
        shipped(),
        JSON.stringify({
          v: 2,
          digest,
          dirs: [null, 7, '..', '/etc', 'pkg-a/lib'],
          files: ['pkg-a/lib/missing.js', null, '../x.js', 'pkg-b/index.js'],
          entries: [
            [0, 'pkg-a', 1],
            [1, 'pkg-b', 0],
            [2, 'pkg-b', 0],
            [0, 'pkg-a', 2],
            [0, 'pkg-a', 'map'],
            ['constructor', 'pkg-a', 0],
            'x',
            [9],
            [4, 'pkg-b', 3],
          ],
        }),
      );
      const damaged = boot();
      expect(damaged).toMatchObject({ mode: 'shipped', value: 'ab' });
      expect(damaged.searches).toBe(searched - 1);
      writeFileSync(shipped(), good);
      chmodSync(shipped(), 0o646);
      rmSync(cacheBase, { recursive: true, force: true });
      expect(boot()).toMatchObject({ mode: 'record', value: 'ab' });
    });

    it('should ignore a build record’s entries outside the app directory and node_modules', () => {
      expect(record().status).toBe(0);
      const record_ = JSON.parse(readFileSync(shipped(), 'utf8')) as {
        dirs: Array<string | null>;
        files: string[];
        entries: Array<[number, string, number]>;
      };
      const evil = record_.files.push('../../evil.js') - 1;
      for (const entry of record_.entries) if (entry[1] === 'pkg-b') entry[2] = evil;
      writeFileSync(shipped(), JSON.stringify(record_));
      const later = boot();
      expect(later).toMatchObject({ mode: 'shipped', value: 'ab' });
      expect(later.loaded.some((f) => f.endsWith('evil.js'))).toBe(false);
    });

    it('should write no build record, and not fail the build, when the build’s boot fails', () => {
      writeFileSync(shipped(), '{"stale":true}');
      write(join(app, 'dist', 'main.js'), "throw new Error('no boot');");
      const run = record();
      expect(run.status).toBe(0);
      expect(run.stderr).toMatch(
        /^resolutions not recorded \(.*no boot.*\): the API boots without them/,
      );
      expect(existsSync(shipped())).toBe(false);
    });

    it('should be off with MDAI_RESOLVE_CACHE=off, build record or not', () => {
      expect(record().status).toBe(0);
      const off = boot(app, { MDAI_RESOLVE_CACHE: 'off' });
      expect(off).toMatchObject({ mode: 'off', value: 'ab' });
      expect(off.searches).toBeGreaterThan(0);
    });
  });

  const statMode = (path: string) => statSync(path).mode & 0o777;
});
