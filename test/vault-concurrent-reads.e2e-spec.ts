import { createHash, randomBytes } from 'node:crypto';
import { DEFAULT_CHUNK_BYTES } from '@app/vault/domain/vault-blob-format';
import { http, startTestApp, TestApp } from './support/test-app';

const CHUNK = DEFAULT_CHUNK_BYTES;
const PURPOSE = 'case review';

/**
 * Many reads at once of untampered files, small (one record, served from the check's pass) and
 * of several chunks: every one is a 200 with the file's bytes. A read's blob buffers must not be
 * handed to another read while its opener still holds its last record for the final tag check
 * (vaultfast's kept read buffers did: 3 in 320 such reads answered 409 file_integrity_failed and
 * were audited as tampered).
 */
describe('vault concurrent reads (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  it('should answer every concurrent read of an untampered file 200 with its bytes', async () => {
    const sizes = [20_000, 21_000, 22_000, 23_000, 2 * CHUNK + 777, 3 * CHUNK];
    const files: { id: string; data: Buffer; sha256: string }[] = [];
    for (const size of sizes) {
      const data = randomBytes(size);
      const up = await http(t.baseUrl, 'POST', '/api/v5/vault', {
        key: t.keys.admin,
        rawBody: data,
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(up.status).toBe(201);
      const sha256 = createHash('sha256').update(data).digest('hex');
      files.push({ id: up.body.fileId as string, data, sha256 });
    }
    const outcomes: Record<string, number> = {};
    const count = (outcome: string) => (outcomes[outcome] = (outcomes[outcome] ?? 0) + 1);
    await Promise.all(
      Array.from({ length: 10 }, async (_, reader) => {
        for (let i = 0; i < 36; i++) {
          const file = files[(reader + i) % files.length];
          const res = await fetch(`${t.baseUrl}/api/v5/vault/${file.id}`, {
            headers: { 'x-api-key': t.keys.auditor, 'x-access-purpose': PURPOSE },
          });
          const body = Buffer.from(await res.arrayBuffer());
          if (res.status !== 200) count(`${res.status} ${JSON.parse(body.toString()).code}`);
          else if (!body.equals(file.data)) count('200 with other bytes');
          else if (res.headers.get('x-content-sha256') !== file.sha256) count('200 other digest');
          else count('200');
        }
      }),
    );
    expect(outcomes).toEqual({ '200': 360 });
  }, 300_000);
});
