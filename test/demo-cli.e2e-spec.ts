import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './support/processes';

/**
 * `npm run demo` pointed at no server (the server runs on another PORT, or not yet): one line
 * that says which URL it tried and how to point it elsewhere, not fetch's "fetch failed".
 */
describe('npm run demo without a server (e2e)', () => {
  it('should name the URL it could not reach and MDAI_URL', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mdai-demo-'));
    try {
      const [apiPort, upstreamPort] = [await freePort(), await freePort()];
      const child = spawn(process.execPath, ['-r', '@swc-node/register', 'scripts/demo.ts'], {
        cwd: join(__dirname, '..'),
        env: {
          ...process.env,
          MDAI_URL: `http://127.0.0.1:${apiPort}`,
          DATA_DIR: dataDir,
          DEMO_UPSTREAM_PORT: String(upstreamPort),
        },
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(1);
      expect(stderr).toContain(`no MDAI API answers at http://127.0.0.1:${apiPort}`);
      expect(stderr).toContain('MDAI_URL');
      expect(stderr).not.toContain('fetch failed');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
