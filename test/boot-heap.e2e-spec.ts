import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

function run(args: string[], cwd: string, tmp: string): Record<string, number> {
  const env: NodeJS.ProcessEnv = { ...process.env, MDAI_RESOLVE_CACHE: 'off', TMPDIR: tmp };
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
  });
});
