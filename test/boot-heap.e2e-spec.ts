import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootHeapPlan, releaseV8 } from '../apps/api/src/boot-heap';
import { freePort } from './support/free-port';

const ROOT = join(__dirname, '..');

/**
 * The boot's young generation keeps its first size (apps/api/src/boot-heap.ts, and the built
 * main.js, scripts/support/api-main.js): a boot that keeps most of what it makes no longer
 * doubles V8's new space up to 2 x 16 MiB, resident at idle (docs/benchmarks.md, "bootlean");
 * once the server listens, the new space grows again as V8 grows it. Sizes of V8's spaces, read
 * with `v8.getHeapSpaceStatistics()` in a child process, no times.
 */
// what a boot does: objects made and kept, scavenged with most of them alive
const KEEP = `const keep = [];
const fill = () => { for (let i = 0; i < 500000; i++) keep.push({ a: i, b: [i] }); };
const newSpaceMiB = () =>
  require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
`;

function run(
  args: string[],
  cwd: string,
  tmp: string,
  more: NodeJS.ProcessEnv = {},
): Record<string, number> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MDAI_RESOLVE_CACHE: 'off',
    TMPDIR: tmp,
    ...more,
  };
  const child = spawnSync(process.execPath, args, { cwd, env, encoding: 'utf8', timeout: 60_000 });
  expect(child.stderr).toBe('');
  return Object.fromEntries(
    [...child.stdout.matchAll(/^(\w+) ([\d.]+)$/gm)].map(([, key, value]) => [key, Number(value)]),
  );
}

describe('boot heap: the young generation keeps its first size until the server listens (e2e)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-boot-heap-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('boot-heap.ts: small while booting, grows again once bootHeapDone() is called', () => {
    const script = join(dir, 'boot-heap-check.ts');
    writeFileSync(
      script,
      `import { bootHeapDone } from '${join(ROOT, 'apps/api/src/boot-heap')}';
${KEEP}
// (the hook's compiler already grew it some, before this module runs)
process.stdout.write('before ' + newSpaceMiB() + '\\n');
fill();
process.stdout.write('booting ' + newSpaceMiB() + '\\n');
bootHeapDone();
fill();
process.stdout.write('listening ' + newSpaceMiB() + '\\n');
`,
    );
    const sizes = run(['-r', '@swc-node/register', script], ROOT, dir);
    // V8's default doubles it up to 2 x 16 MiB for this much kept
    expect(sizes.before).toBeGreaterThan(0);
    expect(sizes.booting).toBe(sizes.before);
    expect(sizes.listening).toBeGreaterThanOrEqual(2 * sizes.booting);
  });

  it('the built main.js: reading, compiling and running the bundle keeps it small', () => {
    copyFileSync(join(ROOT, 'scripts/support/api-main.js'), join(dir, 'main.js'));
    copyFileSync(join(ROOT, 'scripts/support/resolve-cache.js'), join(dir, 'resolve-cache.js'));
    // a stand-in for the bundle (api.js) whose modules keep what they make, as the boot's do
    writeFileSync(
      join(dir, 'api.js'),
      `${KEEP}fill();\nprocess.stdout.write('booting ' + newSpaceMiB() + '\\n');\n`,
    );
    const sizes = run([join(dir, 'main.js')], dir, dir);
    expect(sizes.booting).toBeLessThanOrEqual(4);
    // the operator's own young generation, in spellings V8 and Node accept: left to grow
    const own = [
      run(['-semi_space-growth-factor=2', join(dir, 'main.js')], dir, dir),
      run([join(dir, 'main.js')], dir, dir, { NODE_OPTIONS: '"--max-semi-space-size=16"' }),
    ];
    for (const sizes of own) expect(sizes.booting).toBeGreaterThan(4);
  });

  it("V8 applies what bootHeapDone() sets: the old generation's limit is 3x its live heap", () => {
    const script = join(dir, 'boot-heap-gc.ts');
    writeFileSync(
      script,
      `import { bootHeapDone } from '${join(ROOT, 'apps/api/src/boot-heap')}';
bootHeapDone();
(globalThis as unknown as { gc: () => void }).gc();
`,
    );
    const child = spawnSync(
      process.execPath,
      ['--expose-gc', '--trace-gc-verbose', '-r', '@swc-node/register', script],
      { cwd: ROOT, env: { ...process.env, TMPDIR: dir }, encoding: 'utf8', timeout: 60_000 },
    );
    expect(child.status).toBe(0);
    // e.g. "[HeapController] Limit: old size: 15207 KB, new limit: 61728 KB (3.0)"; the last one
    // is the gc() after bootHeapDone() (V8's default factor here is 4.0 for a small heap)
    const factors = [
      ...child.stdout.matchAll(
        /\[HeapController\] Limit: old size: \d+ KB, new limit: \d+ KB \(([\d.]+)\)/g,
      ),
    ].map(([, factor]) => factor);
    expect(factors.at(-1)).toBe('3.0');
  });
});

/**
 * What boot-heap.ts sets and when (docs/benchmarks.md, "heapfix"): once listening, the old
 * generation gets 3x its live heap of room (`--heap-growing-percent=200`), or V8 counts a 16 MiB
 * vault request's Buffers against a limit ~8 MiB above the live heap and runs a full mark-compact
 * per request; an operator's own flags (node's command line; NODE_OPTIONS for the one Node allows
 * there) are left alone, and a debug V8 (whose checks reject a growth factor of 1) keeps its young generation's default.
 */
describe('boot heap: the flags set, and by whom (e2e)', () => {
  it('by default: the young generation kept while booting, the old one given room once listening', () => {
    expect(bootHeapPlan({}, [], true)).toEqual({
      boot: ['--semi-space-growth-factor=1'],
      listening: ['--semi-space-growth-factor=2', '--heap-growing-percent=200'],
    });
  });

  it("leaves the operator's own flags alone, in any spelling V8 accepts", () => {
    const own = { boot: [], listening: ['--heap-growing-percent=200'] };
    // Node refuses --semi-space-growth-factor and --heap-growing-percent in NODE_OPTIONS: only
    // node's command line; --max-semi-space-size also in NODE_OPTIONS, quoted or not
    for (const option of [
      '--semi-space-growth-factor=4',
      '--semi_space_growth_factor=3',
      '-semi-space-growth-factor=3',
      '--semi_space-growth_factor=3',
      '--max-semi-space-size=8',
      '-max_semi_space_size=8',
    ]) {
      expect(bootHeapPlan({}, [option], true)).toEqual(own);
    }
    for (const nodeOptions of ['--max-semi-space-size=8', '"--max-semi-space-size=8"']) {
      expect(
        bootHeapPlan({ NODE_OPTIONS: `--enable-source-maps ${nodeOptions}` }, [], true),
      ).toEqual(own);
    }
    for (const option of [
      '--heap-growing-percent=50',
      '-heap-growing-percent=50',
      '--heap_growing-percent=50',
      '--heap-growing_percent=50',
    ]) {
      expect(bootHeapPlan({}, ['--enable-source-maps', option], true)).toEqual({
        boot: ['--semi-space-growth-factor=1'],
        listening: ['--semi-space-growth-factor=2'],
      });
    }
  });

  it("a debug build of V8 keeps the young generation's default (its checks reject 1)", () => {
    expect(bootHeapPlan({}, [], false)).toEqual({
      boot: [],
      listening: ['--heap-growing-percent=200'],
    });
  });

  it('a debug V8: a Debug build, or a release one with DCHECKs on', () => {
    const release = { default_configuration: 'Release' };
    expect(releaseV8({ target_defaults: release, variables: {} } as never)).toBe(true);
    expect(
      releaseV8({
        target_defaults: release,
        variables: { dcheck_always_on: 0, is_debug: 0 },
      } as never),
    ).toBe(true);
    expect(
      releaseV8({ target_defaults: { default_configuration: 'Debug' }, variables: {} } as never),
    ).toBe(false);
    expect(
      releaseV8({ target_defaults: release, variables: { dcheck_always_on: 1 } } as never),
    ).toBe(false);
    expect(releaseV8({ target_defaults: release, variables: { is_debug: 1 } } as never)).toBe(
      false,
    );
  });

  it('main.ts calls bootHeapDone() once the server listens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdai-boot-heap-main-'));
    // a preload sharing main.ts's boot-heap module (same file, same instance): it answers
    // whether bootHeapDone() has run once the server has said it listens
    const probe = join(dir, 'probe.ts');
    writeFileSync(
      probe,
      `import { bootHeapIsDone } from '${join(ROOT, 'apps/api/src/boot-heap')}';
process.stdin.on('data', () => process.stdout.write('BOOT_HEAP_DONE ' + bootHeapIsDone() + '\\n'));
`,
    );
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', '-r', probe, 'apps/api/src/main.ts'],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          DATA_DIR: dir,
          NODE_ENV: 'development',
          LOG_LEVEL: 'info',
          PORT: String(port),
          HOST: '127.0.0.1',
        },
      },
    );
    try {
      let stdout = '';
      const seen = (text: string) =>
        new Promise<void>((resolve, reject) => {
          const check = () => stdout.includes(text) && resolve();
          child.stdout.on('data', (chunk: Buffer) => {
            stdout += chunk.toString();
            check();
          });
          child.on('exit', (code) => reject(new Error(`server exited ${code}: ${stdout}`)));
          check();
        });
      await seen('MDAI API listening');
      child.stdin.write('?\n');
      await seen('BOOT_HEAP_DONE');
      expect(/BOOT_HEAP_DONE (\w+)/.exec(stdout)?.[1]).toBe('true');
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
