import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const MIB = 1024 * 1024;

/**
 * The built main.js (scripts/support/api-main.js) tells glibc's malloc, once the boot is done,
 * to keep the large blocks requests free for the next ones: with its defaults, a vault read's
 * held plaintext (16 x 1 MiB for a 16 MiB file) went back to the system once sent and was
 * faulted in again, zeroed, by the next read (docs/benchmarks.md, "vaultdist"). Run on a copy of
 * api-main.js with a stand-in for the bundle (api.js) that, after main.js's post-boot step, takes
 * and gives back 16 MiB the way a read does and counts the page faults of the later rounds (a
 * count, not a time: each page of a block given back to the system is faulted in again).
 */
describe('dist main.js: freed memory kept for the next requests (e2e)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-dist-freed-'));
    copyFileSync(join(ROOT, 'scripts/support/api-main.js'), join(dir, 'main.js'));
    copyFileSync(join(ROOT, 'scripts/support/resolve-cache.js'), join(dir, 'resolve-cache.js'));
    writeFileSync(
      join(dir, 'api.js'),
      `const { readFileSync } = require('node:fs');
const faults = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[7]);
// 16 pieces of 1 MiB, written, then dropped and collected: a 16 MiB read's plaintext
const round = () => {
  let parts = [];
  for (let i = 0; i < 16; i++) parts.push(Buffer.allocUnsafeSlow(${MIB}).fill(1));
  parts = undefined;
  gc();
};
// past main.js's step after the boot (a second after it runs)
setTimeout(() => {
  gc();
  round();
  const from = faults();
  for (let i = 0; i < 4; i++) round();
  process.stdout.write('FAULTS ' + (faults() - from) + '\\n');
}, 1500);
`,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reuses a read-sized block given back instead of faulting it in again', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, MDAI_RESOLVE_CACHE: 'off', TMPDIR: dir };
    delete env.MALLOC_MMAP_THRESHOLD_;
    delete env.MALLOC_TRIM_THRESHOLD_;
    const run = spawnSync(process.execPath, ['--expose-gc', join(dir, 'main.js')], {
      cwd: dir,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    const faults = Number(/FAULTS (\d+)/.exec(run.stdout)?.[1]);
    // 4 rounds of 16 MiB are 16,384 pages: given back each time, every one faults again
    expect(faults).toBeLessThan(2000);
  });
});
