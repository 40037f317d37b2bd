import { mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { read, ROOT } from './support/compose';
import { freePort, run, Service, waitForHttp } from './support/processes';

/**
 * Issue 11, "the first five minutes": a newcomer clones the repository, runs the README's
 * `npm ci && npm start`, then `npm run demo` in a second terminal, and it works to the end
 * with nothing else set. This test does the same from a fresh clone of HEAD. Two concessions
 * to a shared machine: the dependencies are the already installed ones (a symlink instead of
 * `npm ci`, which would only download them again), and the API's port is a free one instead of
 * 3000 (PORT for the server, MDAI_URL for the demo). Nothing else is set: no NODE_ENV, no
 * UPSTREAM_URL, no keys (the demo reads the secrets the server generated into ./data), and the
 * demo starts the upstream stub on its default port 4010 as it does for a newcomer.
 */
describe("a newcomer's first five minutes", () => {
  let dir: string;
  let clone: string;
  let server: Service | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-newcomer-'));
    clone = join(dir, 'mdai');
    const cloned = await run('git', ['clone', '--quiet', ROOT, clone]);
    if (cloned.code !== 0) throw new Error(`git clone failed: ${cloned.output}`);
    symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(clone, 'node_modules'));
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should say in the README exactly what is run here', () => {
    const readme = read('README.md');
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toMatch(/`npm run demo` \(in a second terminal\)/);
  });

  it('should run `npm start` on a fresh clone, then `npm run demo` to the end', async () => {
    const port = await freePort();
    // a newcomer's shell: no NODE_ENV (jest sets one), nothing of ours
    const shell = { PATH: process.env.PATH, HOME: process.env.HOME ?? dir };
    server = Service.start('npm start', 'npm', ['start'], {
      cwd: clone,
      env: { ...shell, PORT: String(port) },
      detached: true,
    });
    await waitForHttp(server, `http://127.0.0.1:${port}/health`, 200, 240_000);
    const demo = await run('npm', ['run', 'demo'], {
      cwd: clone,
      env: { ...shell, MDAI_URL: `http://127.0.0.1:${port}` },
    });
    if (demo.code !== 0) {
      throw new Error(
        `npm run demo failed (${demo.code}):\n${demo.output}\n--- server\n${server.logs()}`,
      );
    }
    expect(demo.output).toMatch(/demo finished: \d+ steps/);
    expect(demo.output).toContain('phone ← result success');
    expect(demo.output).not.toMatch(/upstream_(failed|not_configured)/);
    expect(server.logs()).toContain('UPSTREAM_URL unset: using the local upstream stub');
  }, 300_000);
});
