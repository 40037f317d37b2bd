import { randomUUID } from 'node:crypto';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { EMPTY_HEAD, linkAfter } from '@app/offline-sync/domain/attendance-log';
import { AttendanceLogSqliteMapper } from '@app/offline-sync/infrastructure/persistence/sqlite/mappers/attendance-log.mapper';
import { LEDGER_SQLITE_MIGRATIONS } from '@app/offline-sync/infrastructure/persistence/sqlite/sqlite-ledger.migrations';

/**
 * One site's chain of `links` valid links written straight into the store at `path` (no hook,
 * no tree, no read model): check-ins and check-outs of 5,000 workers taking turns, 400 ms
 * apart, from six days ago.
 */
export function fillChain(path: string, siteId: string, links: number): void {
  const store = new SqliteStore(path);
  store.migrate('offline-sync.ledger', LEDGER_SQLITE_MIGRATIONS);
  store.db.pragma('synchronous = OFF');
  const insert = store.db.prepare(
    `INSERT INTO attendance_logs (site_id, seq, packet_id, prev_hash, record_hash, data, meta)
     VALUES (@site_id, @seq, @packet_id, @prev_hash, @record_hash, @data, @meta)`,
  );
  const meta = {
    isOfflineSync: true,
    syncTimestamp: new Date().toISOString(),
    deviceTrustScore: 80,
  };
  const start = Date.now() - 6 * 86_400_000;
  let head = EMPTY_HEAD;
  const fill = store.db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const person = i % 5000;
      const data = {
        packetId: randomUUID(),
        workerId: `w-${person}`,
        siteId,
        deviceId: `d-${person}`,
        type: i % 2 === 0 ? 'check_in' : 'check_out',
        timestamp: new Date(start + i * 400).toISOString(),
        geo: { lat: 1.00001, lng: 1.00002, accuracyM: 5 },
        signature: 'ab'.repeat(32),
      } as const;
      const log = linkAfter(head, { siteId, packetId: data.packetId, data, meta });
      insert.run(AttendanceLogSqliteMapper.toPersistence(log));
      head = log;
    }
  });
  for (let i = 0; i < links; i += 20_000) fill(i, Math.min(links, i + 20_000));
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.db.close();
}
