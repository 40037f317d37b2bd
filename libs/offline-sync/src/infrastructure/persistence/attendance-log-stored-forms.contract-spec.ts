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
function entry(
  siteId: string,
  timestamp = '2026-01-01T08:00:00.000Z',
  workerId = 'w1',
  deviceId = 'd1',
): PendingLogEntry {
  const packetId = randomUUID();
  return {
    siteId,
    packetId,
    data: {
      packetId,
      workerId,
      siteId,
      deviceId,
      type: 'check_in',
      timestamp,
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

    /**
     * What the fraud screen's lookups read (the worker's previous packet, a device's workers):
     * SQLite's indexes read `data` itself (json_extract, hashed), MongoDB's read the top-level
     * copies `workerId`, `deviceId` and `at`, which no hash covers. Either way a change that
     * steers a lookup must leave a link whose texts no longer hash to its recordHash.
     */
    const steers: [string, Record<string, unknown>, string, unknown][] = [
      ['workerId', { workerId: 'w9' }, '$.workerId', 'w9'],
      ['deviceId', { deviceId: 'd9' }, '$.deviceId', 'd9'],
      [
        'at',
        { at: new Date('2026-01-01T07:00:00.000Z') },
        '$.timestamp',
        '2026-01-01T07:00:00.000Z',
      ],
    ];
    it.each(steers)(
      "should read a packet whose lookup field (%s) was changed in the store, steering the fraud screen's lookups, as a text that no longer hashes to its recordHash",
      async (field, copy, path, value) => {
        const siteId = `S-${randomUUID()}`;
        const [workerId, deviceId] = [`w-${randomUUID()}`, `d-${randomUUID()}`];
        const first = entry(siteId, '2026-01-01T08:00:00.000Z', workerId, deviceId);
        const second = entry(siteId, '2026-01-01T09:00:00.000Z', workerId, deviceId);
        await sut().appendToChains([first, second]);
        const key = {
          workerId,
          at: new Date('2026-01-01T09:00:00.000Z'),
          packetId: second.packetId,
        };
        const window = [
          new Date('2026-01-01T07:30:00.000Z'),
          new Date('2026-01-01T08:30:00.000Z'),
        ] as const;
        expect((await sut().findPreviousOfWorkers([key]))[0]?.data.packetId).toBe(first.packetId);
        expect(await sut().listWorkersOfDevices([deviceId], ...window)).toEqual([key.workerId]);
        if (driver() === 'sqlite') {
          const db = (store() as SqliteStore).db;
          db.exec('DROP TRIGGER attendance_logs_append_only_update');
          db.prepare(
            `UPDATE attendance_logs SET data = json_set(data, ?, ?) WHERE site_id = ? AND seq = 1`,
          ).run(path, value, siteId);
        } else {
          await (store() as MongoStore).connection
            .collection('attendance_logs')
            .updateOne({ siteId, seq: 1 }, { $set: copy });
        }
        // the change steers a lookup: the packet is no longer the worker's previous one, or no
        // longer the device's within the window
        const previous = (await sut().findPreviousOfWorkers([key]))[0];
        const workers = await sut().listWorkersOfDevices([deviceId], ...window);
        expect(previous?.data.packetId === first.packetId && workers.length === 1).toBe(false);
        // and it reads tampered, as its data changed would (verify, the seal, read models)
        const [edited, next] = await sut().readChainTexts(siteId, 0, 10);
        expect([field, recordHashOfText(edited) === edited.recordHash]).toEqual([field, false]);
        expect(recordHashOfText(next)).toBe(next.recordHash);
        const [tagged] = await sut().readTaggedTexts(siteId, 1, 1);
        expect(recordHashOfText(tagged)).not.toBe(tagged.recordHash);
        const [chained] = await sut().readTaggedChain(siteId, 0, 1);
        expect(recordHashOfText(chained.text)).not.toBe(chained.text.recordHash);
      },
    );

    it('should read an entry that is no packet given a worker copy (put into a worker history) as a text that no longer hashes, on MongoDB', async () => {
      const siteId = `S-${randomUUID()}`;
      const packetId = randomUUID();
      await sut().appendToChains([
        {
          siteId,
          packetId,
          data: { kind: 'note', packetId, text: 'x' },
          meta: { isOfflineSync: false, syncTimestamp: '2026-01-01T09:00:00.000Z' },
        },
      ]);
      const [honest] = await sut().readChainTexts(siteId, 0, 10);
      expect(recordHashOfText(honest)).toBe(honest.recordHash);
      if (driver() === 'sqlite') return; // SQLite keeps no copies: its lookups read data
      await (store() as MongoStore).connection
        .collection('attendance_logs')
        .updateOne({ siteId, seq: 1 }, { $set: { workerId: 'w1', at: new Date() } });
      const [edited] = await sut().readChainTexts(siteId, 0, 10);
      expect(recordHashOfText(edited)).not.toBe(edited.recordHash);
    });

    /**
     * The duplicate lookup and the unique key read a link's key copies (MongoDB's `packetId` and
     * `deviceId`, SQLite's `packet_id` and `device_id` columns), which no hash covers: a copy set
     * to the packetId of a packet not yet synced would answer that packet as a duplicate (it
     * would be dropped), and the link's own packet, sent again, would be appended as a second
     * link. The link reads tampered in every reader of texts, and a lookup that finds a link
     * whose data names another key refuses (neither duplicate nor appended).
     */
    async function setKeyCopy(siteId: string, column: 'packetId' | 'deviceId', value: string) {
      if (driver() === 'sqlite') {
        const db = (store() as SqliteStore).db;
        db.exec('DROP TRIGGER IF EXISTS attendance_logs_append_only_update');
        const name = column === 'packetId' ? 'packet_id' : 'device_id';
        db.prepare(`UPDATE attendance_logs SET ${name} = ? WHERE site_id = ? AND seq = 1`).run(
          value,
          siteId,
        );
      } else {
        await (store() as MongoStore).connection
          .collection('attendance_logs')
          .updateOne({ siteId, seq: 1 }, { $set: { [column]: value } });
      }
    }

    async function expectTampered(siteId: string): Promise<void> {
      const [edited, next] = await sut().readChainTexts(siteId, 0, 10);
      expect(recordHashOfText(edited)).not.toBe(edited.recordHash);
      expect(recordHashOfText(next)).toBe(next.recordHash);
      const [tagged] = await sut().readTaggedTexts(siteId, 1, 1);
      expect(recordHashOfText(tagged)).not.toBe(tagged.recordHash);
      const [chained] = await sut().readTaggedChain(siteId, 0, 1);
      expect(recordHashOfText(chained.text)).not.toBe(chained.text.recordHash);
    }

    it("should refuse a packet not yet synced whose packetId was put in a link's key copy, not answer it as a duplicate, and read the link as tampered", async () => {
      const siteId = `S-${randomUUID()}`;
      const first = entry(siteId);
      await sut().appendToChains([first, entry(siteId)]);
      const future = entry(siteId);
      await setKeyCopy(siteId, 'packetId', future.packetId);
      const refused = { code: 'ledger_unauthenticated_entry' };
      await expect(sut().appendToChains([future])).rejects.toMatchObject(refused);
      await expect(sut().appendAtHead(future, 2)).rejects.toMatchObject(refused);
      await expect(
        sut().findByKeys([{ packetId: future.packetId, deviceId: 'd1' }]),
      ).rejects.toMatchObject(refused);
      expect(await sut().headSeq(siteId)).toBe(2);
      await expectTampered(siteId);
    });

    it("should refuse a whole batch that holds a packet whose packetId was put in a link's key copy, writing none of its fresh packets (not half-committed), and append it whole once the link is restored", async () => {
      const [siteId, otherSite] = [`S-${randomUUID()}`, `S-${randomUUID()}`];
      const first = entry(siteId);
      await sut().appendToChains([first, entry(siteId)]);
      const future = entry(siteId);
      await setKeyCopy(siteId, 'packetId', future.packetId);
      // fresh packets before and after it, one on another site's chain
      const batch = [entry(siteId), future, entry(otherSite), entry(siteId)];
      const freshKeys = [0, 2, 3].map((i) => ({ packetId: batch[i].packetId, deviceId: 'd1' }));
      const refused = { code: 'ledger_unauthenticated_entry' };
      await expect(sut().appendToChains(batch)).rejects.toMatchObject(refused);
      // nothing of the call was kept: its retry would answer them duplicate, never screened
      expect(await sut().headSeq(siteId)).toBe(2);
      expect(await sut().headSeq(otherSite)).toBe(0);
      expect(await sut().findByKeys(freshKeys)).toEqual([undefined, undefined, undefined]);
      // sent again, refused again the same way
      await expect(sut().appendToChains(batch)).rejects.toMatchObject(refused);
      expect(await sut().headSeq(siteId)).toBe(2);

      // the operator restores the link: the same batch is appended, every packet of it
      await setKeyCopy(siteId, 'packetId', first.packetId);
      const results = await sut().appendToChains(batch);
      expect(results.map((r) => [r.status, r.log.siteId, r.log.seq])).toEqual([
        ['appended', siteId, 3],
        ['appended', siteId, 4],
        ['appended', otherSite, 1],
        ['appended', siteId, 5],
      ]);
      const [restored] = await sut().readChainTexts(siteId, 0, 1);
      expect(recordHashOfText(restored)).toBe(restored.recordHash);
    });

    it('should read a link whose packetId key copy was changed (its packet, sent again, no longer found as its duplicate) as tampered', async () => {
      const siteId = `S-${randomUUID()}`;
      const first = entry(siteId);
      await sut().appendToChains([first, entry(siteId)]);
      await setKeyCopy(siteId, 'packetId', randomUUID());
      await expectTampered(siteId);
    });

    it('should read a link whose data was edited into JSON that is no object as tampered, and refuse its key, not throw a TypeError', async () => {
      const siteId = `S-${randomUUID()}`;
      const first = entry(siteId);
      await sut().appendToChains([first, entry(siteId)]);
      if (driver() === 'sqlite') {
        const db = (store() as SqliteStore).db;
        db.exec('DROP TRIGGER IF EXISTS attendance_logs_append_only_update');
        db.prepare(`UPDATE attendance_logs SET data = 'null' WHERE site_id = ? AND seq = 1`).run(
          siteId,
        );
      } else {
        await (store() as MongoStore).connection
          .collection('attendance_logs')
          .updateOne({ siteId, seq: 1 }, { $set: { data: null } });
      }
      await expectTampered(siteId);
      await expect(
        sut().findByKeys([{ packetId: first.packetId, deviceId: 'd1' }]),
      ).rejects.toMatchObject({ code: 'ledger_unauthenticated_entry' });
    });

    it("should refuse a packet whose device was put in a link's device key copy, and read the link as tampered", async () => {
      const siteId = `S-${randomUUID()}`;
      const first = entry(siteId);
      await sut().appendToChains([first, entry(siteId)]);
      const other = { ...first, data: { ...first.data, deviceId: 'd2' } };
      await setKeyCopy(siteId, 'deviceId', 'd2');
      await expect(sut().appendToChains([other])).rejects.toMatchObject({
        code: 'ledger_unauthenticated_entry',
      });
      expect(await sut().headSeq(siteId)).toBe(2);
      await expectTampered(siteId);
    });
  },
);
