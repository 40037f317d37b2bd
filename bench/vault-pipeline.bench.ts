/**
 * The vault's storage pipeline in one process, without HTTP, as `VaultService` runs it: plaintext
 * SHA-256 + chunked AES-256-GCM + the blob file written (store), and read back + authenticated
 * + (for a version 1 blob) hashed again (read), against one AES-256-GCM stream written with a
 * plain fs write stream and read back (the baseline). Process CPU (user + system, thread pool
 * included) per MiB; interleaved rounds, medians. `ours` writes blobs as the server does now;
 * `ours, version 1` writes them as it did before `vaultv2` (64 KiB chunks, the read hashing)
 * and reads them with today's code. `VAULT_PIPELINE_CHUNK=<bytes>` sets `ours`' chunk size.
 * BENCH_BEFORE_DIR=<an older checkout> adds that checkout's blob format and storage.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { newId } from '@app/common';
import * as format from '@app/vault/domain/vault-blob-format';
import { VaultBlobStorage } from '@app/vault/infrastructure/blob/vault-blob.storage';
import { median } from './support/proc';
import { printRows } from './support';

const MIB = 1024 * 1024;
const SIZE = 64 * MIB;
const ROUNDS = Number(process.env.VAULT_PIPELINE_ROUNDS ?? 7);

type Format = typeof format;
type Storage = new (app: { uploadsDir: string }) => VaultBlobStorage;

/** The plaintext as a request delivers it: 64 KiB pieces, fresh buffers. */
async function* request(data: Buffer): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += 65536) yield Buffer.from(data.subarray(i, i + 65536));
}

const CHUNK = process.env.VAULT_PIPELINE_CHUNK
  ? Number(process.env.VAULT_PIPELINE_CHUNK)
  : undefined;

interface Written {
  /** The blob format version the rig writes (1 for a checkout before `vaultv2`). */
  version: 1 | 2;
  chunkSize?: number;
}

/**
 * The blob's bytes as `VaultService.store` gives them to the storage: the header, then each
 * piece's records. A checkout before `vaultv2` hashed the plaintext beside the sealer (the
 * service's meter did); a sealer since hashes what it seals and returns the digest.
 */
async function* sealed(
  source: AsyncIterable<Buffer>,
  sealer: format.BlobSealer,
  hash: ReturnType<typeof createHash> | undefined,
  summary: { sha256?: string },
): AsyncGenerator<Buffer | Buffer[]> {
  yield sealer.header;
  for await (const piece of source) {
    hash?.update(piece);
    const records: Buffer[] = [];
    sealer.push(piece, records);
    if (records.length > 0) yield records;
  }
  const last: Buffer[] = [];
  const sum = sealer.end(last) as format.PlaintextSummary | undefined;
  summary.sha256 = hash ? hash.digest('hex') : sum!.sha256;
  yield last;
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function ours(data: Buffer, dir: string, fmt: Format, Store: Storage, written: Written) {
  const storage = new Store({ uploadsDir: dir });
  const key = randomBytes(32);
  const id = newId();
  let t = cpuMs();
  const options = { chunkSize: written.chunkSize, version: written.version };
  const summary: { sha256?: string } = {};
  // a sealer since `vaultv2` hashes what it seals (both versions); an older one did not
  const hash = fmt.BLOB_FORMAT_VERSION >= 2 ? undefined : createHash('sha256');
  await storage.write(
    id,
    sealed(request(data), new fmt.BlobSealer(key, id, options), hash, summary),
  );
  const store = cpuMs() - t;
  t = cpuMs();
  // as `VaultService.checkPlaintext`: authenticated, counted, hashed unless the blob binds the digest
  const opener = new fmt.BlobOpener(key, id, { size: data.length, sha256: summary.sha256! });
  const check = createHash('sha256');
  const parts: Buffer[] = [];
  let bytes = 0;
  const take = () => {
    for (const part of parts) {
      bytes += part.length;
      if (!(opener as { bindsDigest?: boolean }).bindsDigest) check.update(part);
    }
    parts.length = 0;
  };
  for await (const piece of storage.read(id)) {
    opener.push(piece, parts);
    take();
  }
  opener.end(parts);
  take();
  if (bytes !== data.length) throw new Error('lost bytes');
  if (
    !(opener as { bindsDigest?: boolean }).bindsDigest &&
    check.digest('hex') !== summary.sha256
  ) {
    throw new Error('digest mismatch');
  }
  const read = cpuMs() - t;
  await storage.remove(id);
  return { store, read };
}

async function baseline(data: Buffer, dir: string) {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const path = join(dir, `${newId()}.bin`);
  let t = cpuMs();
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  await pipeline(request(data), cipher, createWriteStream(path));
  const tag = cipher.getAuthTag();
  const store = cpuMs() - t;
  t = cpuMs();
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAuthTag(tag);
  let bytes = 0;
  await pipeline(createReadStream(path, { highWaterMark: 256 * 1024 }), decipher, async (src) => {
    for await (const part of src as AsyncIterable<Buffer>) bytes += part.length;
  });
  if (bytes !== data.length) throw new Error('lost bytes');
  const read = cpuMs() - t;
  rmSync(path);
  return { store, read };
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mdai-bench-vault-pipeline-'));
  const before = process.env.BENCH_BEFORE_DIR;
  const rigs: Array<[string, (data: Buffer) => Promise<{ store: number; read: number }>]> = [
    [
      'ours',
      (d) =>
        ours(d, dir, format, VaultBlobStorage as unknown as Storage, {
          version: 2,
          chunkSize: CHUNK,
        }),
    ],
    [
      'v1',
      (d) =>
        ours(d, dir, format, VaultBlobStorage as unknown as Storage, {
          version: 1,
          chunkSize: format.V1_CHUNK_BYTES,
        }),
    ],
    ['baseline', (d) => baseline(d, dir)],
  ];
  if (before) {
    const fmt = (await import(join(before, 'libs/vault/src/domain/vault-blob-format'))) as Format;
    const { VaultBlobStorage: Old } = (await import(
      join(before, 'libs/vault/src/infrastructure/blob/vault-blob.storage')
    )) as { VaultBlobStorage: Storage };
    rigs.push(['before', (d) => ours(d, dir, fmt, Old, { version: 1 })]);
  }
  try {
    const data = randomBytes(SIZE);
    const results: Record<string, { store: number[]; read: number[] }> = {};
    for (const [name, fn] of rigs) {
      await fn(data); // warm-up
      results[name] = { store: [], read: [] };
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, fn] of round % 2 ? [...rigs].reverse() : rigs) {
        const r = await fn(data);
        results[name].store.push(r.store / (SIZE / MIB));
        results[name].read.push(r.read / (SIZE / MIB));
      }
    }
    const row = (name: string, op: 'store' | 'read', label: string) => ({
      metric: label,
      ours: median(results[name][op]),
      baseline: median(results.baseline[op]),
      unit: 'ms/MiB',
    });
    printRows(
      `Vault pipeline, process CPU per MiB (${SIZE / MIB} MiB, medians of ${ROUNDS} interleaved rounds; ratio = ours / baseline, lower is better)`,
      [
        row('ours', 'store', 'store: SHA-256 + chunked GCM + blob file vs one GCM stream + file'),
        row(
          'ours',
          'read',
          'read: blob file + chunk authentication (+ SHA-256 for version 1) vs file + one GCM stream',
        ),
        row('v1', 'store', 'ours, version 1 (64 KiB chunks): store'),
        row('v1', 'read', 'ours, version 1 (64 KiB chunks, hashed): read'),
        ...(before
          ? [
              row('before', 'store', 'before (BENCH_BEFORE_DIR): store'),
              row('before', 'read', 'before (BENCH_BEFORE_DIR): read'),
            ]
          : []),
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
