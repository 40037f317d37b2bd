/**
 * What the vault's image signature check costs a store: the same bytes (a JPEG's first bytes,
 * then random) stored through VaultService as `image/jpeg` (checked: its first piece read
 * before the blob is opened, then every piece through one more generator) and as
 * `application/octet-stream` (not checked: the baseline), in 64 KiB pieces as an HTTP request
 * delivers them; interleaved rounds, medians.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '@app/api/bootstrap';
import { VaultActor, VaultService } from '@app/vault';
import { BenchRow, median, now, printRows } from './support';

const KIB = 1024;
const PIECE = 64 * KIB;
const ROUNDS = Number(process.env.VAULT_SIGNATURE_ROUNDS ?? 7);
const actor: VaultActor = { actor: 'bench', role: 'admin' };
/** A face capture's size, and a large image: stores per round of each. */
const CASES = [
  { label: '200 KiB', size: 200 * KIB, perRound: 40 },
  { label: '8 MiB', size: 8 * 1024 * KIB, perRound: 4 },
];

async function* pieces(data: Buffer): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += PIECE) yield data.subarray(i, i + PIECE);
}

export async function run(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdai-bench-vault-signature-'));
  const { app } = await createApp({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    VAULT_MAX_FILE_BYTES: String(64 * 1024 * KIB),
  });
  try {
    await app.init();
    const vault = app.get(VaultService);
    const rows: BenchRow[] = [];
    for (const { label, size, perRound } of CASES) {
      const data = randomBytes(size);
      Buffer.from([0xff, 0xd8, 0xff, 0xe0]).copy(data, 0);
      const storeAll = async (type: string) => {
        const t = now();
        for (let i = 0; i < perRound; i++) await vault.store(pieces(data), type, actor, 'bench');
        return (now() - t) / perRound;
      };
      await storeAll('image/jpeg'); // warm-up
      await storeAll('application/octet-stream');
      const checked: number[] = [];
      const unchecked: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        if (round % 2) {
          unchecked.push(await storeAll('application/octet-stream'));
          checked.push(await storeAll('image/jpeg'));
        } else {
          checked.push(await storeAll('image/jpeg'));
          unchecked.push(await storeAll('application/octet-stream'));
        }
      }
      rows.push({
        metric: `store ${label}: image/jpeg, signature checked (baseline: octet-stream, not checked; lower is better)`,
        ours: median(checked),
        baseline: median(unchecked),
        unit: 'ms',
      });
    }
    printRows(
      `Vault image signature check (VaultService.store, 64 KiB pieces; medians of ${ROUNDS} interleaved rounds; ratio = ours / baseline)`,
      rows,
    );
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
