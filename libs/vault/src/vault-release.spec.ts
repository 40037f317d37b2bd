import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, get, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthModule } from '@app/common';
import { compileServiceModule } from '@app/api/testing/service-testing-module';
import { VaultActor } from './domain/vault-file';
import { releaseBuffers } from './domain/release-buffers';
import { VaultBlobStorage } from './infrastructure/blob/vault-blob.storage';
import { sendBody } from './send-body';
import { VaultModule } from './vault.module';
import { VaultService } from './vault.service';

/**
 * A vault request frees the memory of its whole-file worth of buffers as it goes (their
 * ArrayBuffers detached: V8 stops counting them at once), not when a collection finds them:
 * the body chunks once sealed, the ciphertext once written, the read's plaintext once the
 * socket is done with it. A 32 MiB store or read otherwise added its file's size once or twice
 * to V8's external memory and started a full collection a request (docs/benchmarks.md,
 * vaultstream). Observed on the buffers themselves: a freed one reads as empty.
 */
const KIB = 1024;
const MIB = 1024 * KIB;
const admin: VaultActor = { actor: 'admin:aaaaaaaaaaaa', role: 'admin', ip: '127.0.0.1' };
const auditor: VaultActor = { actor: 'auditor:bbbbbbbbbbbb', role: 'auditor', ip: '127.0.0.1' };

/** `count` pieces of 64 KiB, each its own ArrayBuffer (as the HTTP parser's copies are). */
function pieces(count: number): Buffer[] {
  return Array.from({ length: count }, () => {
    const piece = Buffer.allocUnsafeSlow(64 * KIB);
    randomBytes(64 * KIB).copy(piece);
    return piece;
  });
}

describe('vault buffers freed as a request goes', () => {
  let dataDir: string;
  let sut: VaultService;
  let blobs: VaultBlobStorage;
  let close: () => Promise<void>;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-vault-release-'));
    const moduleRef = await compileServiceModule({
      dataDir,
      env: { VAULT_KEYS: `v1:${Buffer.alloc(32, 1).toString('base64')}` },
      imports: [AuthModule, VaultModule],
    });
    sut = moduleRef.get(VaultService);
    blobs = moduleRef.get(VaultBlobStorage);
    close = () => moduleRef.close();
  });
  afterEach(async () => {
    await close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("should free a store's body pieces once sealed (the controller's request), and never a caller's buffer", async () => {
    // 3 MiB and a bit: whole chunks, then a final one
    const body = pieces(50);
    const digest = createHash('sha256');
    for (const piece of body) digest.update(piece);
    const sha256 = digest.digest('hex');
    const stored = await sut.store(
      (async function* () {
        yield* body;
      })(),
      'application/octet-stream',
      admin,
      'upload',
      undefined,
      true,
    );
    expect(stored).toMatchObject({ size: 50 * 64 * KIB, sha256 });
    expect(body.map((piece) => piece.length)).toEqual(body.map(() => 0));
    // what was stored is the plaintext as it was handed over
    const read = await sut.read(stored.fileId, auditor, 'check');
    const back = createHash('sha256');
    for await (const part of read.body) back.update(part);
    expect(back.digest('hex')).toBe(sha256);

    // a caller's own buffer (a kiosk's capture) stays whole
    const capture = pieces(20)[0];
    const copy = Buffer.from(capture);
    await sut.storeBuffer(capture, 'application/octet-stream', admin, 'kiosk capture');
    expect(capture.equals(copy)).toBe(true);
  });

  it('should free ciphertext parts once written when asked, and leave them otherwise', async () => {
    const parts = pieces(40);
    const expected = Buffer.concat(parts);
    const id = '0123456789abcdef01234567';
    await blobs.write(
      id,
      (async function* () {
        yield parts.slice(0, 10);
        yield* parts.slice(10);
      })(),
      true,
    );
    expect(readFileSync(blobs.pathOf(id)).equals(expected)).toBe(true);
    expect(parts.every((part) => part.length === 0)).toBe(true);

    const kept = pieces(4);
    await blobs.write(
      '0123456789abcdef01234568',
      (async function* () {
        yield* kept;
      })(),
    );
    expect(kept.every((part) => part.length === 64 * KIB)).toBe(true);
  });

  it("should free a read's plaintext once the socket sent it, the client getting every byte", async () => {
    const data = randomBytes(5 * MIB + 5000);
    const stored = await sut.storeBuffer(data, 'application/octet-stream', admin, 'upload');
    const handed: Buffer[] = [];
    let sent!: Promise<void>;
    const server: Server = createServer((_request, response) => {
      sent = (async () => {
        const read = await sut.read(stored.fileId, auditor, 'check');
        const body = read.body;
        const watched: AsyncIterator<Buffer> = {
          next: async () => {
            const next = await body.next();
            if (!next.done) handed.push(next.value);
            return next;
          },
          return: () => body.return!(),
        };
        response.setHeader('content-length', String(read.size));
        await sendBody(watched, response);
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const received = await new Promise<Buffer>((resolve, reject) =>
        get(`http://127.0.0.1:${port}/`, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve(Buffer.concat(chunks)));
          response.on('error', reject);
        }).on('error', reject),
      );
      await sent;
      expect(received.equals(data)).toBe(true);
      expect(handed.length).toBeGreaterThan(1);
      expect(handed.map((part) => part.length)).toEqual(handed.map(() => 0));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('should free only buffers that are the whole of their memory, 4 KiB or more', () => {
    const whole = Buffer.allocUnsafeSlow(8 * KIB);
    const small = Buffer.allocUnsafeSlow(KIB);
    const larger = Buffer.allocUnsafeSlow(16 * KIB);
    const view = larger.subarray(0, 8 * KIB);
    const pooled = Buffer.allocUnsafe(2 * KIB);
    releaseBuffers([whole, small, view, pooled, whole]);
    expect([whole.length, small.length, view.length, larger.length, pooled.length]).toEqual([
      0,
      KIB,
      8 * KIB,
      16 * KIB,
      2 * KIB,
    ]);
  });
});
