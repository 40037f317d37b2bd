/**
 * Vault throughput: storing and reading through VaultService (chunked AES-256-GCM, disk,
 * metadata and audit writes) against one raw AES-256-GCM pass over the same bytes in memory,
 * in the same run; and the peak RSS while a 200 MB file streams through store and read.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '@app/api/bootstrap';
import { VaultActor, VaultService } from '@app/vault';
import { BenchRow, now, printRows, rssMiB, settleGc } from './support';

const MIB = 1024 * 1024;
const SIZE = 64 * MIB;
const ROUNDS = 3;
const actor: VaultActor = { actor: 'bench', role: 'admin' };

async function* pieces(data: Buffer): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += MIB) yield data.subarray(i, i + MIB);
}

async function* generated(total: number): AsyncGenerator<Buffer> {
  const base = randomBytes(MIB);
  for (let i = 0; i < total / MIB; i++) {
    const piece = Buffer.allocUnsafe(MIB);
    base.copy(piece);
    piece.writeUInt32BE(i, 0);
    yield piece;
  }
}

async function drain(body: AsyncIterable<Buffer>): Promise<number> {
  let bytes = 0;
  for await (const part of body) bytes += part.length;
  return bytes;
}

function rawGcm(data: Buffer): { encryptMs: number; decryptMs: number } {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  let t = now();
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += MIB) out.push(cipher.update(data.subarray(i, i + MIB)));
  cipher.final();
  const tag = cipher.getAuthTag();
  const encryptMs = now() - t;
  t = now();
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAuthTag(tag);
  let bytes = 0;
  for (const part of out) bytes += decipher.update(part).length;
  decipher.final();
  if (bytes !== data.length) throw new Error('raw GCM round trip lost bytes');
  return { encryptMs, decryptMs: now() - t };
}

const best = (values: number[]) => Math.min(...values);
const mbps = (bytes: number, ms: number) => bytes / MIB / (ms / 1000);

export async function run(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdai-bench-vault-'));
  const { app } = await createApp({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    VAULT_MAX_FILE_BYTES: String(512 * MIB),
  });
  try {
    await app.init();
    const vault = app.get(VaultService);
    const data = randomBytes(SIZE);
    const storeMs: number[] = [];
    const readMs: number[] = [];
    const rawEncMs: number[] = [];
    const rawDecMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let t = now();
      const stored = await vault.store(pieces(data), 'application/octet-stream', actor, 'bench');
      storeMs.push(now() - t);
      t = now();
      const read = await vault.read(stored.fileId, actor, 'bench');
      if ((await drain(read.body)) !== SIZE) throw new Error('vault read lost bytes');
      readMs.push(now() - t);
      const raw = rawGcm(data);
      rawEncMs.push(raw.encryptMs);
      rawDecMs.push(raw.decryptMs);
    }

    await settleGc();
    const large = 200 * MIB;
    const before = rssMiB();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB())), 10);
    const t = now();
    const stored = await vault.store(generated(large), 'application/octet-stream', actor, 'bench');
    const read = await vault.read(stored.fileId, actor, 'bench');
    if ((await drain(read.body)) !== large) throw new Error('vault read lost bytes');
    const largeMs = now() - t;
    clearInterval(sampler);
    peak = Math.max(peak, rssMiB());

    const rows: BenchRow[] = [
      {
        metric: `store ${SIZE / MIB} MiB (VaultService vs raw AES-256-GCM encrypt, in memory)`,
        ours: mbps(SIZE, best(storeMs)),
        baseline: mbps(SIZE, best(rawEncMs)),
        unit: 'MB/s',
      },
      {
        metric: `read ${SIZE / MIB} MiB (VaultService vs raw AES-256-GCM decrypt, in memory)`,
        ours: mbps(SIZE, best(readMs)),
        baseline: mbps(SIZE, best(rawDecMs)),
        unit: 'MB/s',
      },
      {
        metric: '200 MiB streamed store + read: throughput',
        ours: mbps(2 * large, largeMs),
        unit: 'MB/s',
      },
      {
        metric: '200 MiB streamed store + read: peak RSS (growth over start)',
        ours: peak,
        unit: 'MiB',
        note: `(+${(peak - before).toFixed(1)} MiB over ${before.toFixed(1)} MiB before)`,
      },
    ];
    printRows(`Vault (best of ${ROUNDS} rounds; ratio = ours / baseline)`, rows);
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
