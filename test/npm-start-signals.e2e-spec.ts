import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = join(__dirname, '..');

/** Whether a process of that pid still exists (signal 0 only checks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * `kill <pid of npm start>` (what a process manager or an operator sends) must stop the
 * server: npm passes SIGTERM on to the script's shell, and a shell waiting on `node` dies of it
 * and leaves the server running with its port open. The start script `exec`s node, so the
 * signal reaches the server (`start:prod` likewise). Run on a copy of package.json's scripts with stand-ins for
 * the build check (current) and the built server (a plain HTTP server that says it got the
 * signal), so no build is needed.
 */
describe('npm start, npm run start:prod and SIGTERM (e2e)', () => {
  let dir: string;
  let npm: ChildProcess | undefined;
  let serverPid: number | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-npm-start-'));
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const put = (file: string, content: string) => {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), content);
    };
    put(
      'package.json',
      JSON.stringify({
        name: 'start-copy',
        private: true,
        scripts: { start: scripts.start, 'start:prod': scripts['start:prod'] },
      }),
    );
    put('scripts/support/build-stamp.js', 'process.exit(0);\n');
    put(
      'dist/apps/api/apps/api/src/main.js',
      `const server = require('node:http').createServer((req, res) => res.end('ok'));
server.listen(0, '127.0.0.1', () =>
  process.stdout.write('listening ' + server.address().port + ' pid ' + process.pid + '\\n'));
process.on('SIGTERM', () => {
  process.stdout.write('got SIGTERM\\n');
  server.close(() => process.exit(0));
});
`,
    );
  });
  afterEach(() => {
    if (serverPid && alive(serverPid)) process.kill(serverPid, 'SIGKILL');
    if (npm?.pid && alive(npm.pid)) npm.kill('SIGKILL');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['start', 'start:prod'])(
    'should stop the server when npm %s is sent SIGTERM',
    async (script) => {
      npm = spawn('npm', ['run', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      npm.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      npm.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<void>((resolve) => npm!.on('exit', () => resolve()));
      while (!/listening \d+ pid \d+/.test(out)) {
        if (npm.exitCode !== null) throw new Error(`npm start exited: ${out}`);
        await sleep(50);
      }
      const [, port, pid] = /listening (\d+) pid (\d+)/.exec(out)!.map(Number);
      serverPid = pid;
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);

      npm.kill('SIGTERM');
      await exited;
      while (alive(pid)) await sleep(50); // jest's timeout is the bound: a server left running hangs here
      expect(out).toContain('got SIGTERM');
      await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    },
    120_000,
  );
});
