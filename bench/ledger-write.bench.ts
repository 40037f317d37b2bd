/**
 * The write side of one sync batch, without HTTP or the packet checks: `LedgerService`
 * appends 500 entries to a site's chain and seals them (Merkle nodes, the signed checkpoint,
 * the witness line, 500 inclusion proofs), then `attachReceipts` puts a receipt on each
 * result, as `POST /api/v5/sync` does after its checks. Baseline: raw inserts of the same
 * rows (same columns, indexes and store settings) into a copy of the ledger file, one prepared
 * INSERT in one `BEGIN IMMEDIATE`, no hashing. Interleaved rounds (the order alternates),
 * process CPU and wall time per batch, medians. LEDGER_WRITE_ROUNDS (default 30).
 *
 * The LedgerService is built on the app's own store, tree and key, with no read model
 * listening (the timesheet projection is another bench's), so the CPU measured is the
 * ledger's own.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { jcs } from '@app/common';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import {
  LogVerifierService,
  SealRefusals,
  StoreMac,
  tlogConfig,
  TlogSettings,
  TransparencyLogService,
} from '@app/tlog';
import { LedgerService } from '@app/offline-sync/ledger.service';
import { AttendanceLogRepository } from '@app/offline-sync/infrastructure/persistence/attendance-log.repository';
import { NO_DEVICE, PendingLogEntry } from '@app/offline-sync/domain/attendance-log';
import { SyncOutcome } from '@app/offline-sync/domain/sync-result';
import { LEDGER_SQLITE_MIGRATIONS } from '@app/offline-sync/infrastructure/persistence/sqlite/sqlite-ledger.migrations';
import { cpuMsSince, median, now, printRows } from './support';
import { startSyncBenchApi } from './support/crew';

const BATCH_SIZE = 500;

export async function run(): Promise<void> {
  const rounds = Number(process.env.LEDGER_WRITE_ROUNDS ?? 30);
  const api = await startSyncBenchApi('ledger-write');
  const baselineStore = new SqliteStore(join(api.dataDir, 'baseline.sqlite'));
  try {
    baselineStore.migrate('offline-sync.ledger', LEDGER_SQLITE_MIGRATIONS);
    const baseline = baselineStore.db;
    const { app } = api;
    const ledger = new LedgerService(
      app.get(AttendanceLogRepository),
      app.get(TransparencyLogService),
      app.get(LogVerifierService),
      app.get<TlogSettings>(tlogConfig.KEY),
      app.get(StoreMac),
      app.get(SealRefusals),
    );
    const siteId = api.siteId;
    const meta = { isOfflineSync: true, syncTimestamp: new Date().toISOString() };
    const batch = (): PendingLogEntry[] =>
      Array.from({ length: BATCH_SIZE }, (_, i) => {
        const packetId = randomUUID();
        const data = {
          kind: 'bench_record',
          packetId,
          workerId: `bench-worker-${i % 50}`,
          at: new Date(Date.now() + i).toISOString(),
          note: 'x'.repeat(200),
        };
        return { siteId, packetId, data, meta: { ...meta }, dataJcs: jcs(data) };
      });
    const insert = baseline.prepare(
      "INSERT INTO attendance_logs (site_id, seq, packet_id, device_id, prev_hash, record_hash, data, meta) VALUES (?, ?, ?, '', ?, ?, ?, ?)",
    );
    const hash = 'a'.repeat(64);
    let seq = 0;
    const insertBatch = baseline.transaction((entries: PendingLogEntry[]) => {
      for (const e of entries) {
        seq += 1;
        insert.run(siteId, seq, e.packetId, hash, hash, e.dataJcs!, jcs(e.meta));
      }
    });
    const ours = async (entries: PendingLogEntry[]): Promise<void> => {
      const appended = await ledger.appendWithReceipts(entries);
      const outcome: SyncOutcome = {
        accepted: entries.length,
        duplicates: 0,
        rejected: 0,
        results: appended.results.map((r) => ({
          packetId: r.log.data.packetId,
          status: 'accepted' as const,
          seq: r.log.seq,
          recordHash: r.log.recordHash,
        })),
      };
      const answered = await ledger.attachReceipts(outcome, appended, NO_DEVICE);
      if (answered.results.some((r) => !('receipt' in r))) throw new Error('a receipt is missing');
    };
    // warm-up: the site's tree head, statements and JIT
    for (let i = 0; i < 3; i++) {
      await ours(batch());
      insertBatch.immediate(batch());
    }
    const times = { ours: [] as number[], raw: [] as number[] };
    const cpu = { ours: [] as number[], raw: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (['ours', 'raw'] as const) : (['raw', 'ours'] as const);
      for (const side of order) {
        const entries = batch();
        const c0 = process.cpuUsage();
        const t0 = now();
        if (side === 'ours') await ours(entries);
        else insertBatch.immediate(entries);
        times[side].push(now() - t0);
        cpu[side].push(cpuMsSince(c0));
      }
    }
    printRows('Ledger write side of a sync batch (append + seal + receipts vs raw inserts)', [
      {
        metric: `process CPU ms per ${BATCH_SIZE}-entry batch, median of ${rounds}`,
        ours: median(cpu.ours),
        baseline: median(cpu.raw),
        unit: 'ms',
      },
      {
        metric: `wall ms per ${BATCH_SIZE}-entry batch, median of ${rounds}`,
        ours: median(times.ours),
        baseline: median(times.raw),
        unit: 'ms',
      },
    ]);
  } finally {
    await baselineStore.close();
    await api.close();
  }
}
