import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './support/processes';
import { startTestApp, TestApp } from './support/test-app';

/** Runs `npm run demo` (its script) against `baseUrl` with `dataDir`; its exit code and stderr. */
async function runDemo(
  baseUrl: string,
  dataDir: string,
  more: { env?: NodeJS.ProcessEnv; flows?: string[] } = {},
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const script = ['-r', '@swc-node/register', 'scripts/demo.ts', ...(more.flows ?? [])];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MDAI_URL: baseUrl,
    DATA_DIR: dataDir,
    DEMO_UPSTREAM_PORT: String(await freePort()),
    ...more.env,
  };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const child = spawn(process.execPath, script, { cwd: join(__dirname, '..'), env });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stderr, stdout };
}

/**
 * `npm run demo` pointed at no server (the server runs on another PORT, or not yet): one line
 * that says which URL it tried and how to point it elsewhere, not fetch's "fetch failed".
 */
describe('npm run demo without a server (e2e)', () => {
  it('should name the URL it could not reach and MDAI_URL', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mdai-demo-'));
    try {
      const apiPort = await freePort();
      const { code, stderr } = await runDemo(`http://127.0.0.1:${apiPort}`, dataDir);
      expect(code).toBe(1);
      expect(stderr).toContain(`no MDAI API answers at http://127.0.0.1:${apiPort}`);
      expect(stderr).toContain('MDAI_URL');
      expect(stderr).not.toContain('fetch failed');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/**
 * `npm run demo` with a DATA_DIR that is not the server's: it says there is no secrets.json
 * there, or that the server refused the keys it found, instead of "401, undefined kiosks".
 */
describe('npm run demo with the wrong DATA_DIR (e2e)', () => {
  let t: TestApp;
  let wrongDir: string;
  beforeAll(async () => {
    t = await startTestApp();
    wrongDir = mkdtempSync(join(tmpdir(), 'mdai-demo-wrong-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(wrongDir, { recursive: true, force: true });
  });

  it('should say there is no secrets.json at the path it tried', async () => {
    const { code, stderr, stdout } = await runDemo(t.baseUrl, wrongDir);
    expect(code).toBe(1);
    expect(stderr).toContain(
      `demo failed: no API keys for the demo: there is no ${join(wrongDir, 'secrets.json')}`,
    );
    expect(stderr).toContain('set DATA_DIR to the data directory of the server you started');
    expect(stdout).not.toContain('undefined');
  });

  it('should say the server refused the keys of another secrets.json, without the key', async () => {
    const other = 'admin-key-of-another-server-0001';
    writeFileSync(
      join(wrongDir, 'secrets.json'),
      JSON.stringify({ ADMIN_API_KEYS: other, MOBILE_API_KEYS: 'mobile-key-of-another-0001' }),
    );
    const { code, stderr, stdout } = await runDemo(t.baseUrl, wrongDir);
    expect(code).toBe(1);
    expect(stderr).toContain(
      `demo failed: the server refused the admin key from ${join(wrongDir, 'secrets.json')} ` +
        '(401 unauthorized)',
    );
    expect(stderr + stdout).not.toContain(other);
    expect(stdout).not.toContain('undefined');
  });
});

/**
 * The demo honours the server's UPSTREAM_URL (an outside client author's finding: it started its
 * stub on 4010 while the server called another identity API): a local URL's port is where its
 * stub starts, another host means no stub at all.
 */
describe('npm run demo and UPSTREAM_URL (e2e)', () => {
  let t: TestApp;
  let dataDir: string;
  beforeAll(async () => {
    t = await startTestApp();
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-demo-upstream-'));
    writeFileSync(
      join(dataDir, 'secrets.json'),
      JSON.stringify({ ADMIN_API_KEYS: t.keys.admin, MOBILE_API_KEYS: t.keys.mobile }),
    );
  });
  afterAll(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  // "--check": the demo checks the server, its keys and the upstream, then runs no flow
  it('should start its stub on the port of a local UPSTREAM_URL', async () => {
    const port = await freePort();
    const env = {
      UPSTREAM_URL: `http://127.0.0.1:${port}`,
      UPSTREAM_API_KEY: 'demo-upstream-key-0001',
      DEMO_UPSTREAM_PORT: undefined,
    };
    const { code, stdout, stderr } = await runDemo(t.baseUrl, dataDir, {
      env,
      flows: ['--check'],
    });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain(`(started the upstream stub on port ${port})`);
  });

  it('should start no stub when UPSTREAM_URL names another host', async () => {
    const env = { UPSTREAM_URL: 'https://identity.example.net/v1', DEMO_UPSTREAM_PORT: undefined };
    const { code, stdout } = await runDemo(t.baseUrl, dataDir, { env, flows: ['--check'] });
    expect(code).toBe(0);
    expect(stdout).toContain(
      '(the identity API is https://identity.example.net: no upstream stub started)',
    );
    expect(stdout).not.toContain('started the upstream stub');
  });

  // the server sends no x-api-key then: a stub that wanted dev-upstream-key refused every face
  it('should start its stub checking no key when UPSTREAM_URL comes without UPSTREAM_API_KEY', async () => {
    const port = await freePort();
    const env = {
      UPSTREAM_URL: `http://localhost:${port}`,
      UPSTREAM_API_KEY: undefined,
      DEMO_UPSTREAM_PORT: undefined,
    };
    const { code, stdout } = await runDemo(t.baseUrl, dataDir, { env, flows: ['--check'] });
    expect(code).toBe(0);
    expect(stdout).toContain(
      `(started the upstream stub on port ${port}, checking no key: the server sends none)`,
    );
  });

  it('should start no stub, and say why, for an https or path UPSTREAM_URL on this machine', async () => {
    for (const url of ['https://127.0.0.1:8443', 'http://127.0.0.1:4011/identity']) {
      const env = { UPSTREAM_URL: url, DEMO_UPSTREAM_PORT: undefined };
      const { code, stdout, stderr } = await runDemo(t.baseUrl, dataDir, {
        env,
        flows: ['--check'],
      });
      expect({ url, code, stderr }).toEqual({ url, code: 0, stderr: '' });
      expect(stdout).toContain("the demo's stub answers only plain http://<this machine>:<port>");
      expect(stdout).toContain('no upstream stub started');
    }
  });

  it('should refuse a flow name it does not know, naming the flows it has', async () => {
    const { code, stdout, stderr } = await runDemo(t.baseUrl, dataDir, { flows: ['pairng'] });
    expect(code).toBe(1);
    expect(stderr).toContain('demo failed: no flow named pairng (the flows: ');
    expect(stderr).toContain('pairing');
    expect(stdout).not.toContain('started the upstream stub');
  });

  it('should check no key with DEMO_UPSTREAM_PORT either when the server has UPSTREAM_URL without a key', async () => {
    const port = await freePort();
    const env = {
      DEMO_UPSTREAM_PORT: String(port),
      UPSTREAM_URL: 'http://identity.internal:8080',
      UPSTREAM_API_KEY: undefined,
    };
    const { code, stdout } = await runDemo(t.baseUrl, dataDir, { env, flows: ['--check'] });
    expect(code).toBe(0);
    expect(stdout).toContain(
      `(started the upstream stub on port ${port}, checking no key: the server sends none)`,
    );
  });
});
