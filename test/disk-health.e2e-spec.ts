import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, startTestApp, TestApp } from './support/test-app';
import { jpegBytes } from './support/image-bytes';

/**
 * The vault's disk is a dependency like the store: when the uploads directory cannot be
 * written (root-owned volume, read-only mount, a file in the way), /health says so and an
 * upload answers 503 `storage_unavailable`, not 200 and a 500 later. Fixing the disk is enough
 * to recover. (The unprivileged-user case runs in the topology tier: test/topology/image.)
 */
describe('vault storage health (e2e)', () => {
  let t: TestApp;
  let dir: string;
  let blocker: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-disk-'));
    blocker = join(dir, 'not-a-directory');
    writeFileSync(blocker, 'in the way');
    t = await startTestApp({ UPLOADS_DIR: join(blocker, 'uploads') });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const upload = () =>
    http(t.baseUrl, 'POST', '/api/v5/vault', {
      key: t.keys.admin,
      rawBody: jpegBytes(128, 1),
      headers: { 'content-type': 'image/jpeg' },
    });

  it('should report the disk down, refuse uploads with 503, and recover once the disk is fixed', async () => {
    const down = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(down.status).toBe(503);
    expect(down.body.error).toEqual({
      disk: { status: 'down', message: 'the uploads directory is not writable (ENOTDIR)' },
    });
    expect(down.body.info.store.status).toBe('up');
    const refused = await upload();
    expect([refused.status, refused.body.code]).toEqual([503, 'storage_unavailable']);

    rmSync(blocker);
    const up = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect([up.status, up.body.info.disk.status]).toEqual([200, 'up']);
    expect((await upload()).status).toBe(201);
  });
});
