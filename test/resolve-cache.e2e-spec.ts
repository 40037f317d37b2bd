import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
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
process.stdout.write(JSON.stringify({ mode: cache.mode, value, searches, loaded }));`,
    );
  });

  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function boot(): { mode: string; value: string; searches: number; loaded: string[] } {
    const run = spawnSync(process.execPath, [join(app, 'dist', 'main.js')], {
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: '' },
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

  const statMode = (path: string) => statSync(path).mode & 0o777;
});
