import { createPrivateKey, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SECRETS_FILE } from '@app/common';
import { StoreMac } from '@app/tlog/store-mac';
import { parseStoreMacKey } from '@app/tlog/store-mac-keys';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { withIndexesRebuilt } from '@app/persistence/testing/indexes-rebuilt';
import { EMPTY_HEAD, linkAfter } from '@app/offline-sync/domain/attendance-log';
import { AttendanceLogSqliteMapper } from '@app/offline-sync/infrastructure/persistence/sqlite/mappers/attendance-log.mapper';
import { LEDGER_SQLITE_MIGRATIONS } from '@app/offline-sync/infrastructure/persistence/sqlite/sqlite-ledger.migrations';

/** Whose punch a filled link is, and when (ms). */
export interface FilledPunch {
  siteId: string;
  workerId: string;
  deviceId: string;
  at: number;
}

/**
 * `links` valid links written straight into the ledger at `path` (no hook, no tree, no read
 * model), each site's chain from its genesis; link `i` is `punchOf(i)`, a check-in when `i` is
 * even. With `indexesAfter` the ledger's indexes are built after the rows (withIndexesRebuilt:
 * much faster than row by row at millions of links), so the file ends up with exactly the
 * ledger's schema.
 */
export function writeLinks(
  path: string,
  links: number,
  punchOf: (i: number) => FilledPunch,
  options: { indexesAfter?: boolean } = {},
): void {
  const store = new SqliteStore(path);
  store.migrate('offline-sync.ledger', LEDGER_SQLITE_MIGRATIONS);
  store.db.pragma('synchronous = OFF');
  const insert = store.db.prepare(
    `INSERT INTO attendance_logs (site_id, seq, packet_id, device_id, prev_hash, record_hash, data, meta, mac, mac_kid)
     VALUES (@site_id, @seq, @packet_id, @device_id, @prev_hash, @record_hash, @data, @meta, @mac, @mac_kid)`,
  );
  const mac = storeMacOf(path);
  const meta = {
    isOfflineSync: true,
    syncTimestamp: new Date().toISOString(),
    deviceTrustScore: 80,
  };
  const heads = new Map<string, { seq: number; recordHash: string }>();
  const fill = store.db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const { siteId, workerId, deviceId, at } = punchOf(i);
      const data = {
        packetId: randomUUID(),
        workerId,
        siteId,
        deviceId,
        type: i % 2 === 0 ? 'check_in' : 'check_out',
        timestamp: new Date(at).toISOString(),
        geo: { lat: 1.00001, lng: 1.00002, accuracyM: 5 },
        signature: 'ab'.repeat(32),
      } as const;
      const log = linkAfter(heads.get(siteId) ?? EMPTY_HEAD, {
        siteId,
        packetId: data.packetId,
        data,
        meta,
      });
      insert.run({
        ...AttendanceLogSqliteMapper.toPersistence(log),
        mac: mac.mac('ledger-link', log.recordHash),
        mac_kid: mac.kid,
      });
      heads.set(siteId, { seq: log.seq, recordHash: log.recordHash });
    }
  });
  const fillAll = () => {
    for (let i = 0; i < links; i += 50_000) fill(i, Math.min(links, i + 50_000));
  };
  if (options.indexesAfter) withIndexesRebuilt(store.db, ['attendance_logs'], fillAll);
  else fillAll();
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.db.close();
}

/**
 * The server's link tags for the store at `path`, from the store-MAC key (else the log key) of the secrets.json beside
 * it: filled links stand for links the server wrote and never sealed (an untagged one is refused
 * a checkpoint until `ledger:seal-foreign`).
 */
function storeMacOf(path: string): StoreMac {
  const secrets = JSON.parse(readFileSync(join(dirname(path), SECRETS_FILE), 'utf8')) as {
    TLOG_SIGNING_KEY: string;
    STORE_MAC_KEY?: string;
  };
  return new StoreMac({
    signingKey: createPrivateKey(secrets.TLOG_SIGNING_KEY.replace(/\\n/g, '\n')),
    storeMacKey: secrets.STORE_MAC_KEY
      ? parseStoreMacKey('STORE_MAC_KEY', secrets.STORE_MAC_KEY)
      : undefined,
  });
}

/**
 * One site's chain of `links` links (`writeLinks`): check-ins and check-outs of 5,000 workers
 * taking turns, 400 ms apart, from six days ago.
 */
export function fillChain(path: string, siteId: string, links: number): void {
  const start = Date.now() - 6 * 86_400_000;
  writeLinks(path, links, (i) => ({
    siteId,
    workerId: `w-${i % 5000}`,
    deviceId: `d-${i % 5000}`,
    at: start + i * 400,
  }));
}
