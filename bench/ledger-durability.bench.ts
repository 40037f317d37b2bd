/**
 * What a durable ledger commit costs: one 500-link append (the ledger's schema, indexes and
 * store settings, the links' real texts) committed by `appendImmediate`, which syncs the WAL
 * before the commit returns (`synchronous = FULL`, so an acknowledged punch survives a power
 * loss), against the same append on the store's default level (`synchronous = NORMAL`: the WAL
 * is synced at checkpoints only). Two files, interleaved rounds (the order alternates), wall
 * time per commit, medians. LEDGER_DURABILITY_ROUNDS (default 15), 20 commits a round.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteConnection, SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { appendImmediate } from '@app/tlog/infrastructure/persistence/chain-append';
import { LEDGER_SQLITE_MIGRATIONS } from '@app/offline-sync/infrastructure/persistence/sqlite/sqlite-ledger.migrations';
import { median, now, printRows } from './support';

const BATCH = 500;
const COMMITS_PER_ROUND = 20;

export async function run(): Promise<void> {
  const rounds = Number(process.env.LEDGER_DURABILITY_ROUNDS ?? 15);
  const dir = mkdtempSync(join(tmpdir(), 'bench-durability-'));
  // the ledger's schema made by its migrations, then bare connections with the store's
  // settings (no checkpoint thread or write turns of the store around them)
  for (const name of ['durable', 'normal']) {
    const store = new SqliteStore(join(dir, `${name}.sqlite`));
    store.migrate('offline-sync.ledger', LEDGER_SQLITE_MIGRATIONS);
    await store.close();
  }
  const stores = {
    durable: { db: openSqliteConnection(join(dir, 'durable.sqlite')) },
    normal: { db: openSqliteConnection(join(dir, 'normal.sqlite')) },
  };
  try {
    const seqs = { durable: 0, normal: 0 };
    const commit = (which: 'durable' | 'normal'): number => {
      const db = stores[which].db;
      const insert = db.prepare(
        `INSERT INTO attendance_logs (site_id, seq, packet_id, device_id, prev_hash, record_hash, data, meta, mac, mac_kid)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const rows = Array.from({ length: BATCH }, () => {
        const packetId = randomUUID();
        return [packetId, JSON.stringify({ kind: 'check_in', packetId, workerId: 'w-1' })];
      });
      const write = () => {
        for (const [packetId, data] of rows) {
          const seq = ++seqs[which];
          insert.run(
            'site-1',
            seq,
            packetId,
            'device-1',
            'a'.repeat(64),
            'b'.repeat(64),
            data,
            '{}',
            'c'.repeat(64),
            'k1',
          );
        }
      };
      const t0 = now();
      // the durable side as the ledger commits; the other the same transaction at NORMAL
      if (which === 'durable') appendImmediate(db, write);
      else db.transaction(write).immediate();
      return now() - t0;
    };
    const samples = { durable: [] as number[], normal: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      const order: ('durable' | 'normal')[] = r % 2 ? ['durable', 'normal'] : ['normal', 'durable'];
      for (const which of order) {
        let total = 0;
        for (let i = 0; i < COMMITS_PER_ROUND; i++) total += commit(which);
        samples[which].push(total / COMMITS_PER_ROUND);
      }
    }
    printRows(`Ledger commit durability (${BATCH} links a commit, ${rounds} rounds)`, [
      {
        metric: 'commit, synchronous = FULL (ours) vs NORMAL',
        ours: median(samples.durable),
        baseline: median(samples.normal),
        unit: 'ms',
      },
    ]);
  } finally {
    for (const store of Object.values(stores)) store.db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
