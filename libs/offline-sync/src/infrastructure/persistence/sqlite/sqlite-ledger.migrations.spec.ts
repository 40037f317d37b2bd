import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import {
  AttendanceLog,
  EMPTY_HEAD,
  linkAfter,
  NO_DEVICE,
  PendingLogEntry,
} from '../../../domain/attendance-log';
import { ChainVerifier } from '../../../domain/chain-verifier';
import { correctionEntry, punchEntry } from '../../../testing/punch-entry';
import { AttendanceLogSqliteMapper as Mapper } from './mappers/attendance-log.mapper';
import { SqliteAttendanceLogRepository } from './repositories/sqlite-attendance-log.repository';
import { LEDGER_SQLITE_MIGRATIONS } from './sqlite-ledger.migrations';

const SCOPE = 'offline-sync.ledger';

/**
 * A ledger file as the schema before (packet_id, device_id) left it: migrations 1–3, and links
 * written with that schema's columns (no device_id).
 */
function oldLedger(path: string, entries: PendingLogEntry[]): AttendanceLog[] {
  const store = new SqliteStore(path);
  store.migrate(
    SCOPE,
    LEDGER_SQLITE_MIGRATIONS.filter((m) => m.version <= 3),
  );
  const insert = store.db.prepare(
    `INSERT INTO attendance_logs (site_id, seq, packet_id, prev_hash, record_hash, data, meta)
     VALUES (@site_id, @seq, @packet_id, @prev_hash, @record_hash, @data, @meta)`,
  );
  const heads = new Map<string, AttendanceLog>();
  const links = entries.map((entry) => {
    const link = linkAfter(heads.get(entry.siteId) ?? EMPTY_HEAD, entry);
    const { device_id: _notInTheOldSchema, ...row } = Mapper.toPersistence(link);
    insert.run(row);
    heads.set(entry.siteId, link);
    return link;
  });
  store.db.close();
  return links;
}

describe('SQLite ledger migrations 4 and 5: (device_id, packet_id) is the key', () => {
  let dir: string;
  let store: SqliteStore | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-ledger-migrate-'));
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('should upgrade a ledger made by the old schema in place: links kept as hashed, each with its device, the key per device', async () => {
    const path = join(dir, 'old.sqlite');
    const a = punchEntry({
      siteId: 'S',
      workerId: 'w1',
      deviceId: 'dev-a',
      type: 'check_in',
      timestamp: '2026-01-01T08:00:00.000Z',
    });
    const b = punchEntry({
      siteId: 'S',
      workerId: 'w2',
      deviceId: 'dev-b',
      type: 'check_in',
      timestamp: '2026-01-01T08:01:00.000Z',
    });
    const correction = correctionEntry({
      siteId: 'S',
      workerId: 'w1',
      targetSeq: 1,
      action: 'void',
      reason: 'test',
      syncTimestamp: '2026-01-01T09:00:00.000Z',
    });
    const other = punchEntry({
      siteId: 'T',
      workerId: 'w1',
      deviceId: 'dev-a',
      type: 'check_out',
      timestamp: '2026-01-01T17:00:00.000Z',
    });
    const old = oldLedger(path, [a, b, correction, other]);

    store = new SqliteStore(path);
    const repo = new SqliteAttendanceLogRepository(store); // applies migrations 4 and 5
    const versions = store.db
      .prepare<[string], { version: number }>(
        'SELECT version FROM schema_migrations WHERE scope = ? ORDER BY version',
      )
      .all(SCOPE)
      .map((r) => r.version);
    expect(versions).toEqual([1, 2, 3, 4, 5, 6]);
    // the unique key device first (migration 5): a batch's keys, one device's, sit together
    const unique = store.db
      .prepare<[], { name: string }>(
        "SELECT name FROM pragma_index_list('attendance_logs') WHERE \"unique\" = 1 AND origin <> 'pk'",
      )
      .get()!;
    expect(
      store.db
        .prepare<[string], { name: string }>('SELECT name FROM pragma_index_info(?) ORDER BY seqno')
        .all(unique.name)
        .map((c) => c.name),
    ).toEqual(['device_id', 'packet_id']);

    // every link kept as it was hashed: the chains verify, and read back equal
    for (const siteId of ['S', 'T']) {
      const verifier = new ChainVerifier(siteId);
      for (const link of await repo.readChain(siteId, 0, 100)) verifier.accept(link);
      expect(verifier.firstBreak).toBeUndefined();
    }
    expect(await repo.readChain('S', 0, 100)).toEqual(old.slice(0, 3));
    expect(await repo.readChain('T', 0, 100)).toEqual(old.slice(3));
    // each row has its device: a packet's, and none for the correction
    const devices = store.db
      .prepare<[], { packet_id: string; device_id: string }>(
        'SELECT packet_id, device_id FROM attendance_logs ORDER BY site_id, seq',
      )
      .all();
    expect(devices).toEqual([
      { packet_id: a.packetId, device_id: 'dev-a' },
      { packet_id: b.packetId, device_id: 'dev-b' },
      { packet_id: correction.packetId, device_id: NO_DEVICE },
      { packet_id: other.packetId, device_id: 'dev-a' },
    ]);
    const found = await repo.findByKeys([
      { deviceId: 'dev-a', packetId: a.packetId },
      { deviceId: NO_DEVICE, packetId: correction.packetId },
      { deviceId: 'dev-b', packetId: a.packetId },
    ]);
    expect(found.map((l) => l?.seq)).toEqual([1, 3, undefined]);

    // the key is per device now: the same device's packet again is its duplicate, another
    // device's packet with that packetId its own link
    const squat = punchEntry({
      siteId: 'S',
      workerId: 'w2',
      deviceId: 'dev-b',
      type: 'check_out',
      timestamp: '2026-01-01T08:02:00.000Z',
    });
    const withIdOfA: PendingLogEntry = {
      ...squat,
      packetId: a.packetId,
      data: { ...squat.data, packetId: a.packetId },
    };
    const results = await repo.appendToChains([a, withIdOfA]);
    expect(results.map((r) => [r.status, r.log.seq])).toEqual([
      ['duplicate', 1],
      ['appended', 4],
    ]);
    // and the schema itself refuses a second row of one key
    expect(() =>
      store!.db
        .prepare(
          `INSERT INTO attendance_logs (site_id, seq, packet_id, device_id, prev_hash, record_hash, data, meta)
           VALUES ('U', 1, ?, 'dev-a', 'x', 'x', '{}', '{}')`,
        )
        .run(a.packetId),
    ).toThrow(/UNIQUE constraint failed: attendance_logs.device_id, attendance_logs.packet_id/);
    // still append-only
    expect(() =>
      store!.db.prepare("DELETE FROM attendance_logs WHERE site_id = 'S'").run(),
    ).toThrow(/append-only/);
  });
});
