/**
 * Transparency log costs, two measurements:
 *
 * 1. Sync throughput with receipts vs without, in one run on one server: 32 batches of 500
 *    packets from 32 phones, in ABBA order, `POST /api/v5/sync` (receipts: an inclusion proof per
 *    packet and the signed checkpoint in the answer) and `POST /api/v5/sync?receipts=false`
 *    (the same append and the same signed checkpoint, no proofs in the answer); medians of
 *    the per-batch times. Also the time to seal one 500-entry batch (tree nodes, Ed25519
 *    checkpoint, witness line) measured directly, as a share of a batch.
 * 2. Proof generation at 1,000,000 entries: a 1M-leaf tree stored by the SQLite adapter,
 *    then inclusion proofs at random leaves and consistency proofs between random sizes,
 *    through TransparencyLogService, against the baseline of one stored-node lookup.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { appendLeaves, nodeId, perfectNodes, TransparencyLogService } from '@app/tlog';
import { now, percentile, printRows } from './support';
import { enrollCrew, signedBatch, startSyncBenchApi } from './support/crew';
import { sqliteTlog } from './support/tlog';

const BATCHES = 32;
const BATCH_SIZE = 500;
const TREE_SIZE = 1_000_000;
const CHUNK = 65_536;
const PROOFS = 2000;

async function syncWithAndWithout(): Promise<void> {
  const api = await startSyncBenchApi('tlog');
  const { app, base } = api;
  try {
    const phones = await enrollCrew(api, BATCHES);
    const batches = phones.map((phone) => signedBatch(phone, api.siteId, BATCH_SIZE));
    const times: Record<'with' | 'without', number[]> = { with: [], without: [] };
    let bytesWith = 0;
    for (const [i, { packets, token }] of batches.entries()) {
      // ABBA order, so a periodic cost (WAL checkpoints, GC) does not land on one side
      const mode = [0, 3].includes(i % 4) ? 'with' : 'without';
      const t0 = now();
      const res = await fetch(`${base}/api/v5/sync${mode === 'with' ? '' : '?receipts=false'}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ packets }),
      });
      const text = await res.text();
      times[mode].push(now() - t0);
      const body = JSON.parse(text) as { accepted: number; results: { receipt?: unknown }[] };
      if (body.accepted !== BATCH_SIZE)
        throw new Error(`batch not accepted: ${text.slice(0, 200)}`);
      if ((mode === 'with') !== (body.results[0].receipt !== undefined))
        throw new Error('receipt mode wrong');
      if (mode === 'with') bytesWith += text.length;
    }
    const med = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      );
    // sealing one batch on its own: 500 new leaves on a log of a few thousand
    const tlog = app.get(TransparencyLogService);
    const sealTimes: number[] = [];
    for (let r = 0; r < 9; r++) {
      const origin = `bench.local/seal/${r}`;
      const hashes = Array.from({ length: 5000 }, (_, i) =>
        createHash('sha256').update(`${r}:${i}`).digest('hex'),
      );
      await tlog.seal(origin, 4500, async (from, to) => hashes.slice(from - 1, to), []);
      const t0 = now();
      await tlog.seal(origin, 5000, async (from, to) => hashes.slice(from - 1, to), []);
      sealTimes.push(now() - t0);
    }
    const withMs = med(times.with);
    const withoutMs = med(times.without);
    printRows('Transparency log: sync with receipts vs without (one server, interleaved batches)', [
      {
        metric: `packets/s, median of ${BATCHES / 2} batches of ${BATCH_SIZE} each (with receipts vs ?receipts=false)`,
        ours: BATCH_SIZE / (withMs / 1000),
        baseline: BATCH_SIZE / (withoutMs / 1000),
        unit: 'pkt/s',
      },
      { metric: 'ms per 500-packet batch', ours: withMs, baseline: withoutMs, unit: 'ms' },
      {
        metric:
          'seal one 500-entry batch (tree nodes + Ed25519 checkpoint + witness line), median of 9, vs a whole batch without receipts',
        ours: med(sealTimes),
        baseline: withoutMs,
        unit: 'ms',
      },
      {
        metric: 'response bytes per batch with receipts',
        ours: bytesWith / (BATCHES / 2) / 1024,
        unit: 'KiB',
      },
    ]);
  } finally {
    await api.close();
  }
}

async function proofsAtOneMillion(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mdai-bench-tree-'));
  const store = new SqliteStore(join(dir, 'tree.sqlite'));
  try {
    const { repo, tlog } = await sqliteTlog(store, dir);
    // setup only: the 2M-node build is not what is measured, so skip the fsyncs
    store.db.pragma('synchronous = OFF');
    const origin = 'bench.local/ledger/one-million';
    const t0 = now();
    for (let from = 0; from < TREE_SIZE; from += CHUNK) {
      const count = Math.min(CHUNK, TREE_SIZE - from);
      const compact = await repo.findNodes(origin, perfectNodes(0, from));
      const leaves = Array.from({ length: count }, (_, i) =>
        createHash('sha256')
          .update(Buffer.of(0))
          .update(String(from + i))
          .digest(),
      );
      await repo.putNodes(origin, appendLeaves(compact, from, leaves).created);
    }
    const buildMs = now() - t0;
    const random = (n: number) => 1 + Math.floor(Math.random() * n);
    const recordHash = 'ab'.repeat(32);
    // interleave: one proof, one single-node lookup (the baseline), repeatedly
    const inclusion: number[] = [];
    const consistency: number[] = [];
    const lookup: number[] = [];
    for (let i = 0; i < PROOFS; i++) {
      let t = now();
      await tlog.inclusionProof(origin, random(TREE_SIZE), recordHash, TREE_SIZE);
      inclusion.push(now() - t);
      const first = random(TREE_SIZE - 1);
      t = now();
      await tlog.consistencyProof(origin, first, first + random(TREE_SIZE - first));
      consistency.push(now() - t);
      const leaf = random(TREE_SIZE) - 1;
      t = now();
      const found = await repo.findNodes(origin, [{ level: 0, index: leaf }]);
      lookup.push(now() - t);
      if (!found.has(nodeId({ level: 0, index: leaf }))) throw new Error('missing leaf');
    }
    const med = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      );
    const p99 = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        99,
      );
    printRows(`Transparency log: proofs at ${TREE_SIZE.toLocaleString('en')} entries (SQLite)`, [
      {
        metric: `inclusion proof, median of ${PROOFS}`,
        ours: med(inclusion) * 1000,
        baseline: med(lookup) * 1000,
        unit: 'µs',
      },
      {
        metric: 'inclusion proof, p99',
        ours: p99(inclusion) * 1000,
        baseline: p99(lookup) * 1000,
        unit: 'µs',
      },
      {
        metric: `consistency proof, median of ${PROOFS}`,
        ours: med(consistency) * 1000,
        baseline: med(lookup) * 1000,
        unit: 'µs',
      },
      {
        metric: 'building the 1M-leaf tree (2M stored nodes, 64k-leaf chunks)',
        ours: buildMs / 1000,
        unit: 's',
      },
    ]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  await syncWithAndWithout();
  await proofsAtOneMillion();
}
