import { randomUUID } from 'node:crypto';
import { MongoStore, SqliteStore } from '@app/persistence';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { PendingLogEntry, recordHashOfText } from '../../domain/attendance-log';
import { attendanceLogAdapters } from './ledger-persistence';

/**
 * Stored text is canonical (docs/architecture.md), for the ledger: a link's data whose parsed
 * value still gives the hashed text, but whose stored form is not the one the server writes,
 * no longer hashes to its recordHash (verify and every read of texts say
 * record_hash_mismatch). SQLite hashes the stored text itself: a `data` with a duplicate
 * `workerId` (the indexes' json_extract reads the first, JSON.parse the last) differs from the
 * hashed bytes. MongoDB serializes the stored values: a BSON date for the signed timestamp gives
 * the same JCS text (`toJSON`), so a value that is not JSON gives a text that hashes to none.
 */
function entry(siteId: string): PendingLogEntry {
  const packetId = randomUUID();
  return {
    siteId,
    packetId,
    data: {
      packetId,
      workerId: 'w1',
      siteId,
      deviceId: 'd1',
      type: 'check_in',
      timestamp: '2026-01-01T08:00:00.000Z',
      geo: { lat: 28.6139, lng: 77.209, accuracyM: 12.5 },
      signature: 'a'.repeat(64),
    },
    meta: { isOfflineSync: true, syncTimestamp: '2026-01-01T09:00:00.000Z', deviceTrustScore: 50 },
  };
}

describeStoreContract(
  'AttendanceLogRepository stored forms',
  attendanceLogAdapters,
  ({ sut, store, driver }) => {
    it("should read a link whose data is stored in another form than the server's as a text that no longer hashes to its recordHash", async () => {
      const siteId = `S-${randomUUID()}`;
      await sut().appendToChains([entry(siteId), entry(siteId)]);
      const [honest] = await sut().readChainTexts(siteId, 0, 10);
      expect(recordHashOfText(honest)).toBe(honest.recordHash);
      if (driver() === 'sqlite') {
        const db = (store() as SqliteStore).db;
        // as a database writer would: the append-only trigger dropped first
        db.exec('DROP TRIGGER attendance_logs_append_only_update');
        db.prepare(
          `UPDATE attendance_logs SET data = '{"workerId":"w2",' || substr(data, 2) WHERE site_id = ? AND seq = 1`,
        ).run(siteId);
        const [stored] = db
          .prepare(
            `SELECT json_extract(data, '$.workerId') AS w FROM attendance_logs WHERE site_id = ? AND seq = 1`,
          )
          .all(siteId) as { w: string }[];
        expect(stored.w).toBe('w2');
      } else {
        await (store() as MongoStore).connection
          .collection('attendance_logs')
          .updateOne(
            { siteId, seq: 1 },
            { $set: { 'data.timestamp': new Date('2026-01-01T08:00:00.000Z') } },
          );
      }
      const [edited, next] = await sut().readChainTexts(siteId, 0, 10);
      expect(recordHashOfText(edited)).not.toBe(edited.recordHash);
      expect(recordHashOfText(next)).toBe(next.recordHash);
    });
  },
);
