import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import {
  BLOB_HEADER_BYTES,
  BLOB_TAG_BYTES,
  DEFAULT_CHUNK_BYTES,
} from '@app/vault/domain/vault-blob-format';
import { SEND_BATCH_BYTES } from '@app/vault/send-body';
import { http, startTestApp, TestApp } from './support/test-app';

const MIB = 1024 * 1024;
const CHUNK = DEFAULT_CHUNK_BYTES;
const RECORD = CHUNK + BLOB_TAG_BYTES;
const PURPOSE = 'fraud case 114';

/**
 * The most a loopback connection can hold in flight: the kernel's largest TCP receive and send
 * buffers (autotuning grows a buffer up to those, 32 MiB and 4 MiB on a Debian default, so a
 * fixed offset is not enough), where /proc tells them; 36 MiB where it does not.
 */
function socketBuffersMax(): number {
  const largest = (file: string): number => {
    try {
      return Math.max(...readFileSync(file, 'utf8').trim().split(/\s+/).map(Number));
    } catch {
      return NaN;
    }
  };
  const rmem = largest('/proc/sys/net/ipv4/tcp_rmem');
  const wmem = largest('/proc/sys/net/ipv4/tcp_wmem');
  return Number.isFinite(rmem) && Number.isFinite(wmem) ? rmem + wmem : 36 * MIB;
}

async function upload(t: TestApp, data: Buffer): Promise<string> {
  const stored = await http(t.baseUrl, 'POST', '/api/v5/vault', {
    key: t.keys.admin,
    rawBody: data,
    headers: { 'content-type': 'application/octet-stream' },
  });
  expect(stored.status).toBe(201);
  return stored.body.fileId;
}

async function lastAudit(t: TestApp, fileId: string) {
  const records = await http(t.baseUrl, 'GET', `/api/v5/vault/audit?fileId=${fileId}`, {
    key: t.keys.auditor,
  });
  return records.body.at(-1);
}

/** The body's sizes around the server's chunks and send batches, read whole over HTTP. */
describe('vault read body (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ VAULT_MAX_FILE_BYTES: String(40 * MIB) });
  });
  afterAll(async () => t.close());

  // (an empty upload is refused; reading an empty blob stored before: vault-blob-format.spec)
  it.each([
    ['one byte', 1],
    ['an exact multiple of the chunk size', 3 * CHUNK],
    ['exactly one send batch', SEND_BATCH_BYTES],
    ['two send batches and a chunk and a byte', 2 * SEND_BATCH_BYTES + CHUNK + 1],
  ])('should send a file %s whole, with its length and digest', async (_label, size) => {
    const data = randomBytes(size);
    const fileId = await upload(t, data);
    const res = await fetch(`${t.baseUrl}/api/v5/vault/${fileId}`, {
      headers: { 'x-api-key': t.keys.auditor, 'x-access-purpose': PURPOSE },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(size));
    expect(res.headers.get('x-content-sha256')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
  });
});

describe('vault read body beyond the hold (e2e)', () => {
  let t: TestApp;
  // a chunk far past what the socket buffers and two send batches can hold ahead of the client
  const tamperAt = socketBuffersMax() + 2 * SEND_BATCH_BYTES + 4 * MIB;
  const fileBytes = tamperAt + 4 * MIB;
  beforeAll(async () => {
    // no plaintext held: the body reads and decrypts the blob again as it goes out
    t = await startTestApp({
      VAULT_MAX_FILE_BYTES: String(fileBytes),
      VAULT_READ_HOLD_BYTES: '0',
    });
  });
  afterAll(async () => t.close());

  it('should cut the transfer before a chunk tampered after the check, having sent only the bytes before it', async () => {
    const data = randomBytes(fileBytes);
    const fileId = await upload(t, data);
    const tampered = Math.floor(tamperAt / CHUNK);
    const received: Buffer[] = [];
    let resume!: () => void;
    const ended = new Promise<void>((resolve, reject) => {
      const req = request(
        `${t.baseUrl}/api/v5/vault/${fileId}`,
        { headers: { 'x-api-key': t.keys.auditor, 'x-access-purpose': PURPOSE } },
        (res) => {
          expect(res.statusCode).toBe(200);
          expect(res.headers['content-length']).toBe(String(data.length));
          res.on('data', (part: Buffer) => received.push(part));
          // after the first bytes the client stops reading, until the blob is changed
          res.once('data', () => {
            res.pause();
            resume = () => res.resume();
          });
          res.on('close', resolve);
          res.on('error', () => resolve());
        },
      );
      req.on('error', reject);
      req.end();
    });
    while (!resume) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    // one byte of the chunk's ciphertext flipped in place (the server reads the blob it opened);
    // flipped, not overwritten: a fixed value is already there in one blob of 256
    const fd = openSync(join(t.config.app.uploadsDir, `${fileId}.mdv`), 'r+');
    try {
      const at = BLOB_HEADER_BYTES + tampered * RECORD + 10;
      const byte = Buffer.alloc(1);
      expect(readSync(fd, byte, 0, 1, at)).toBe(1);
      byte[0] ^= 0x5a;
      writeSync(fd, byte, 0, 1, at);
    } finally {
      closeSync(fd);
    }
    resume();
    await ended;
    const got = Buffer.concat(received);
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThanOrEqual(tampered * CHUNK);
    expect(got.equals(data.subarray(0, got.length))).toBe(true);
    expect(await lastAudit(t, fileId)).toMatchObject({
      action: 'read',
      result: 'failed',
      reason: 'tampered',
    });
  });
});
