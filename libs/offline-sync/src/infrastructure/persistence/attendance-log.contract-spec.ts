import { randomUUID } from 'node:crypto';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { describeStoreContract, MONGODB_URI } from '@app/persistence/testing/store-contract';
import { jcs } from '@app/common';
import {
  AttendanceLog,
  GENESIS_HASH,
  LedgerEntryData,
  NO_DEVICE,
  PendingLogEntry,
  recordHashOfText,
} from '../../domain/attendance-log';
import { ChainVerifier } from '../../domain/chain-verifier';
import { attendanceLogAdapters } from './ledger-persistence';
import { AttendanceLogRepository, KnownLinks, SiteHead } from './attendance-log.repository';
import { PREVIOUS_KEYS_PER_READ } from './mongo/repositories/mongo-attendance-log.repository';

function entry(siteId: string, packetId = randomUUID(), deviceId = 'd1'): PendingLogEntry {
  return {
    siteId,
    packetId,
    data: {
      packetId,
      workerId: 'w1',
      siteId,
      deviceId,
      type: 'check_in',
      timestamp: '2026-01-01T08:00:00.000Z',
      geo: { lat: 28.6139, lng: 77.209, accuracyM: 12.5 },
      signature: 'a'.repeat(64),
    },
    meta: { isOfflineSync: true, syncTimestamp: '2026-01-01T09:00:00.000Z', deviceTrustScore: 50 },
  };
}

async function verify(repo: AttendanceLogRepository, siteId: string) {
  const verifier = new ChainVerifier(siteId);
  for (const log of await repo.readChain(siteId, 0, 100_000)) verifier.accept(log);
  return verifier;
}

describeStoreContract(
  'AttendanceLogRepository',
  attendanceLogAdapters,
  ({ sut, store, driver }) => {
    it('should start each site at seq 1 on the genesis hash and link every entry to the one before', async () => {
      const results = await sut().appendToChains([entry('A'), entry('B'), entry('A')]);
      expect(results.map((r) => [r.status, r.log.siteId, r.log.seq])).toEqual([
        ['appended', 'A', 1],
        ['appended', 'B', 1],
        ['appended', 'A', 2],
      ]);
      expect(results[0].log.prevHash).toBe(GENESIS_HASH);
      expect(results[2].log.prevHash).toBe(results[0].log.recordHash);
      expect((await verify(sut(), 'A')).firstBreak).toBeUndefined();
    });

    it('should store a packetId once and answer later copies, even in the same call, as duplicates', async () => {
      const first = entry('A');
      const [a, b] = await sut().appendToChains([first, { ...first }]);
      const [c] = await sut().appendToChains([first]);
      expect([a.status, b.status, c.status]).toEqual(['appended', 'duplicate', 'duplicate']);
      expect(c.log).toEqual(a.log);
      expect(await sut().readChain('A', 0, 10)).toHaveLength(1);
    });

    it("should store another device's entry with a packetId already used as its own link", async () => {
      const packetId = randomUUID();
      const [a, b] = await sut().appendToChains([
        entry('K', packetId, 'd1'),
        entry('K', packetId, 'd2'),
      ]);
      const [again] = await sut().appendToChains([entry('K', packetId, 'd2')]);
      expect([a.status, b.status, again.status]).toEqual(['appended', 'appended', 'duplicate']);
      expect(again.log).toEqual(b.log);
      const found = await sut().findByKeys([
        { deviceId: 'd2', packetId },
        { deviceId: 'd1', packetId },
      ]);
      expect(found.map((l) => l?.seq)).toEqual([2, 1]);
      // an entry no device made shares its packetId space with no device's packets
      const record = {
        siteId: 'K',
        packetId,
        data: { kind: 'note', packetId, text: 'x' },
        meta: { isOfflineSync: false, syncTimestamp: '2026-01-01T09:00:00.000Z' },
      };
      const [r1, r2] = await sut().appendToChains([record, { ...record }]);
      expect([r1.status, r2.status]).toEqual(['appended', 'duplicate']);
      const [none] = await sut().findByKeys([{ deviceId: NO_DEVICE, packetId }]);
      expect(none?.seq).toBe(3);
      expect((await verify(sut(), 'K')).firstBreak).toBeUndefined();
    });

    it('should fence a pending marker by its owner token: a holder whose lease was taken over holds and settles nothing of it', async () => {
      const [first] = await sut().appendToChains([entry('F'), entry('F')]);
      if (driver() === 'sqlite') {
        // one transaction per call: no marker, every lease held
        expect(first).not.toHaveProperty('batch');
        expect(await sut().holdBatches([])).toEqual([]);
        return;
      }
      const mine = first.status === 'appended' ? first.batch! : undefined;
      expect(mine?.owner).toEqual(expect.any(String));
      const markers = (store() as MongoStore).connection.db!.collection('ledger_pending_batches');
      expect(await sut().holdBatches([mine!])).toEqual([mine]);
      // the lease ran out (the writer stalled): the sweep takes the marker under its own token
      await markers.updateMany({}, { $set: { leased: new Date(0), until: new Date(0) } });
      const [taken] = await sut().staleBatches(10);
      expect(taken.lease.id).toBe(mine!.id);
      expect(taken.lease.owner).not.toBe(mine!.owner);
      // the writer holds and settles nothing of it any more
      expect(await sut().holdBatches([mine!])).toEqual([]);
      await sut().settleBatches([mine!]);
      await sut().releaseBatches([mine!]);
      expect(await markers.countDocuments({ _id: mine!.id as never })).toBe(1);
      expect(await sut().staleBatches(10)).toEqual([]);
      // its taker does
      expect(await sut().holdBatches([taken.lease])).toEqual([taken.lease]);
      await sut().settleBatches([taken.lease]);
      expect(await markers.countDocuments({})).toBe(0);
    });

    it('should write, on MongoDB, a pending marker with the lease end a release before the owner tokens reads (until)', async () => {
      if (driver() === 'sqlite') return; // one transaction per call: no marker
      const before = Date.now();
      const [first] = await sut().appendToChains([entry('T')]);
      const mine = first.status === 'appended' ? first.batch! : undefined;
      const markers = (store() as MongoStore).connection.db!.collection('ledger_pending_batches');
      const marker = await markers.findOne({ _id: mine!.id as never });
      // the older replica's takeover reads until.getTime(): a date one lease ahead
      expect(marker?.until).toBeInstanceOf(Date);
      expect((marker!.until as Date).getTime()).toBeGreaterThanOrEqual(before);
      await sut().releaseBatches([mine!]);
      const released = await markers.findOne({ _id: mine!.id as never });
      expect((released!.until as Date).getTime()).toBe(0);
      await sut().settleBatches((await sut().staleBatches(10)).map((b) => b.lease));
    });

    it('should not take, on MongoDB, a marker a replica of the release before took (its until running, leased ended)', async () => {
      if (driver() === 'sqlite') return; // one transaction per call: no marker
      const e = entry('T');
      const [first] = await sut().appendToChains([e]);
      const mine = first.status === 'appended' ? first.batch! : undefined;
      const markers = (store() as MongoStore).connection.db!.collection('ledger_pending_batches');
      // the old replica's takeover (a CAS on `until` only) set its owner and `until`, not `leased`
      await markers.updateOne(
        { _id: mine!.id as never },
        {
          $set: { owner: 'old-release', leased: new Date(0), until: new Date(Date.now() + 60_000) },
        },
      );
      expect(await sut().staleBatches(10)).toEqual([]);
      const [again] = await sut().appendToChains([e]);
      expect(again).not.toHaveProperty('pendingBatch');
      // its lease over by both clocks: taken
      await markers.updateOne({ _id: mine!.id as never }, { $set: { until: new Date(0) } });
      const swept = await sut().staleBatches(10);
      expect(swept.map((b) => b.lease.id)).toEqual([mine!.id]);
      await sut().settleBatches(swept.map((b) => b.lease));
    });

    it('should judge, on MongoDB, leases by isMaster localTime on a server without hello', async () => {
      if (driver() === 'sqlite') return; // no marker, no lease
      const db = (store() as MongoStore).connection.db!;
      const admin = db.admin();
      const command = admin.command.bind(admin);
      const asked: string[] = [];
      const spy = jest.spyOn(db, 'admin').mockReturnValue(
        Object.assign(Object.create(admin) as typeof admin, {
          command: async (cmd: Record<string, unknown>) => {
            asked.push(Object.keys(cmd)[0]);
            if ('hello' in cmd)
              throw Object.assign(new Error("no such command: 'hello'"), { code: 59 });
            return command(cmd);
          },
        }),
      );
      try {
        await sut().staleBatches(10);
      } finally {
        spy.mockRestore();
      }
      expect(asked).toEqual(['hello', 'isMaster']);
    });

    it('should release, on MongoDB, a marker it took whose keys all came back stored by another meanwhile', async () => {
      if (driver() === 'sqlite') return; // one transaction per call: no marker
      const packetId = randomUUID();
      const [first] = await sut().appendToChains([entry('I', packetId)]);
      const cutShort = first.status === 'appended' ? first.batch! : undefined;
      // the writer failed after its insert: its marker released, the packet never screened
      await sut().releaseBatches([cutShort!]);
      // its re-send looks the key up before another stores it (the lookup finds none), then
      // finds it stored at its insert: the marker it took names no key it screens
      const lookup = jest.spyOn(sut(), 'findByKeys').mockResolvedValueOnce([undefined]);
      try {
        const [again] = await sut().appendToChains([entry('I', packetId)]);
        expect(again.status).toBe('duplicate');
        expect(again).not.toHaveProperty('pendingBatch');
      } finally {
        lookup.mockRestore();
      }
      // released at once (not held for its lease): the sweep takes it now
      const swept = await sut().staleBatches(10);
      expect(swept.map((b) => b.lease.id)).toContain(cutShort!.id);
      await sut().settleBatches(swept.map((b) => b.lease));
    });

    it('should drop, on MongoDB, the unique packetId index a collection made before the per-device key has', async () => {
      if (driver() === 'sqlite') return; // migration 4 (sqlite-ledger.migrations.spec.ts)
      const logs = (store() as MongoStore).connection.db!.collection('attendance_logs');
      // the collection as the old schema declared it: packetId unique across devices
      await logs.deleteMany({});
      await logs.createIndex({ packetId: 1 }, { unique: true, name: 'packetId_1' });
      await sut().appendToChains([entry('U')]);
      // what the app does on start (before its declared indexes are built)
      await (sut() as unknown as { onModuleInit(): Promise<void> }).onModuleInit();
      const names = (await logs.listIndexes().toArray()).map((i) => i.name as string);
      expect(names).not.toContain('packetId_1');
      expect(names).toContain('packetId_1_deviceId_1');
      const packetId = randomUUID();
      const results = await sut().appendToChains([
        entry('U', packetId, 'd1'),
        entry('U', packetId, 'd2'),
      ]);
      expect(results.map((r) => r.status)).toEqual(['appended', 'appended']);
      // a second start finds nothing to drop
      await (sut() as unknown as { onModuleInit(): Promise<void> }).onModuleInit();
    });

    it('should find, on MongoDB, a link stored before the key copies as its device resends it', async () => {
      if (driver() === 'sqlite') return; // migration 4 derives device_id from data
      const logs = (store() as MongoStore).connection.db!.collection('attendance_logs');
      const old = entry('V', randomUUID(), 'd-old');
      const [stored] = await sut().appendToChains([old]);
      // as a build before 2026-11-21 stored it: no top-level workerId, deviceId, at
      await logs.updateOne(
        { packetId: old.packetId },
        { $unset: { workerId: '', deviceId: '', at: '' } },
      );
      await (sut() as unknown as { onModuleInit(): Promise<void> }).onModuleInit();
      const [again] = await sut().appendToChains([{ ...old }]);
      expect(again).toEqual({ status: 'duplicate', log: stored.log });
      expect(await logs.findOne({ packetId: old.packetId })).toMatchObject({
        deviceId: 'd-old',
        at: expect.any(Date),
      });
      expect(await sut().readChain('V', 0, 10)).toHaveLength(1);
    });

    it('should answer a call that starts with a duplicate entry by entry: new ones appended, copies duplicates', async () => {
      const [old1, old2] = [entry('E'), entry('E')];
      const [stored1, stored2] = await sut().appendToChains([old1, old2]);
      const fresh = [entry('E'), entry('F')];
      const results = await sut().appendToChains([
        old1,
        fresh[0],
        old2,
        fresh[1],
        { ...fresh[0] },
        old1,
      ]);
      expect(results.map((r) => [r.status, r.log.siteId, r.log.seq])).toEqual([
        ['duplicate', 'E', 1],
        ['appended', 'E', 3],
        ['duplicate', 'E', 2],
        ['appended', 'F', 1],
        ['duplicate', 'E', 3],
        ['duplicate', 'E', 1],
      ]);
      expect(results[0].log).toEqual(stored1.log);
      expect(results[2].log).toEqual(stored2.log);
      expect(results[4].log).toEqual(results[1].log);
      expect((await verify(sut(), 'E')).firstBreak).toBeUndefined();
      expect(await sut().readChain('E', 0, 10)).toHaveLength(3);
    });

    it('should keep one chain without gaps or forks under concurrent appends', async () => {
      const batches = Array.from({ length: 20 }, () => [entry('C'), entry('C'), entry('C')]);
      const shared = entry('C');
      await Promise.all([
        ...batches.map((b) => sut().appendToChains(b)),
        sut().appendToChains([shared]),
        sut().appendToChains([shared]),
      ]);
      const verifier = await verify(sut(), 'C');
      expect(verifier.firstBreak).toBeUndefined();
      expect(verifier.length).toBe(61);
    });

    it('should append at the expected head only, else answer head_moved with the head found and write nothing', async () => {
      const first = await sut().appendAtHead(entry('H'), 0);
      expect(first).toMatchObject({ status: 'appended', log: { seq: 1, prevHash: GENESIS_HASH } });
      expect(await sut().appendAtHead(entry('H'), 0)).toEqual({ status: 'head_moved', headSeq: 1 });
      expect(await sut().appendAtHead(entry('H'), 5)).toEqual({ status: 'head_moved', headSeq: 1 });
      const [second] = await sut().appendToChains([entry('H')]);
      expect(await sut().appendAtHead(entry('H'), 1)).toEqual({ status: 'head_moved', headSeq: 2 });
      const third = await sut().appendAtHead(entry('H'), 2);
      expect(third).toMatchObject({
        status: 'appended',
        log: { seq: 3, prevHash: second.log.recordHash },
      });
      // what it answered is what was stored, and only the appended entries were
      const chain = await sut().readChain('H', 0, 10);
      expect(chain).toEqual([first, second, third].map((r) => 'log' in r && r.log));
      expect((await verify(sut(), 'H')).firstBreak).toBeUndefined();
      // another site's head is its own
      expect(await sut().appendAtHead(entry('I'), 0)).toMatchObject({ status: 'appended' });
    });

    it('should answer a stored packetId as a duplicate, whatever the head expected', async () => {
      const e = entry('K');
      const stored = await sut().appendAtHead(e, 0);
      await sut().appendToChains([entry('K')]);
      for (const headSeq of [0, 1, 2]) {
        const again = await sut().appendAtHead({ ...e }, headSeq);
        expect(again).toEqual({ status: 'duplicate', log: 'log' in stored && stored.log });
      }
      expect(await sut().readChain('K', 0, 10)).toHaveLength(2);
    });

    it('should append one of many conditional appends at one head from two connections, beside unconditional ones', async () => {
      // a second adapter on its own connection (another process on the SQLite file, another
      // replica on the MongoDB database)
      const other: Store =
        driver() === 'sqlite' ? new SqliteStore((store() as SqliteStore).path) : store();
      const second = await compileAdapter(other, attendanceLogAdapters);
      try {
        const repos = [sut(), second.adapter];
        let length = 0;
        for (let round = 0; round < 6; round++) {
          const headSeq = length;
          // odd rounds: unconditional appends (syncs) race the conditional ones, and may win
          const syncs = round % 2 === 1 ? 4 : 0;
          const [results, unconditional] = await Promise.all([
            Promise.all(
              Array.from({ length: 8 }, (_, i) => repos[i % 2].appendAtHead(entry('R'), headSeq)),
            ),
            Promise.all(
              Array.from({ length: syncs }, (_, i) => repos[i % 2].appendToChains([entry('R')])),
            ),
          ]);
          const appended = results.filter((r) => r.status === 'appended');
          expect(appended.length).toBe(syncs === 0 ? 1 : appended.length);
          expect(appended.length).toBeLessThanOrEqual(1);
          for (const r of appended) expect(r.log.seq).toBe(headSeq + 1);
          for (const r of results.filter((r) => r.status !== 'appended')) {
            expect(r).toEqual({ status: 'head_moved', headSeq: expect.any(Number) });
            expect((r as { headSeq: number }).headSeq).toBeGreaterThan(headSeq);
          }
          expect(unconditional.flat().map((r) => r.status)).toEqual(Array(syncs).fill('appended'));
          length += appended.length + syncs;
        }
        const verifier = await verify(sut(), 'R');
        expect(verifier.firstBreak).toBeUndefined();
        expect(verifier.length).toBe(length);
      } finally {
        await second.close();
        if (other !== store()) await other.close();
      }
    });

    it('should find stored links by (device, packetId) and read a chain in pages', async () => {
      const entries = [entry('P'), entry('P'), entry('P')];
      await sut().appendToChains(entries);
      const found = await sut().findByKeys([
        { deviceId: 'd1', packetId: entries[1].packetId },
        { deviceId: 'd1', packetId: randomUUID() },
        { deviceId: 'd2', packetId: entries[1].packetId },
      ]);
      expect(found.map((l) => l?.seq)).toEqual([2, undefined, undefined]);
      expect((await sut().readChain('P', 1, 1)).map((l) => l.seq)).toEqual([2]);
      expect(await sut().readChain('P', 3, 10)).toEqual([]);
    });

    it("should read a chain's head seq, 0 for a chain with no link", async () => {
      expect(await sut().headSeq('HQ')).toBe(0);
      await sut().appendToChains([entry('HQ'), entry('HQ'), entry('HR')]);
      expect(await sut().headSeq('HQ')).toBe(2);
      await sut().appendToChains([entry('HQ')]);
      expect(await sut().headSeq('HQ')).toBe(3);
      expect(await sut().headSeq('HR')).toBe(1);
    });

    it('should list the sites with a chain after a siteId in pages, in siteId order, each with its head seq', async () => {
      await sut().appendToChains([entry('sh-b'), entry('sh-a'), entry('sh-b'), entry('sh-c')]);
      await sut().appendToChains([entry('sh-b')]);
      const pages = async (pageSize: number, after?: string) => {
        const read: SiteHead[][] = [];
        for await (const page of sut().siteHeadPages(pageSize, after)) read.push(page);
        return read;
      };
      expect(await pages(2, 'sh-')).toEqual([
        [
          { siteId: 'sh-a', seq: 1 },
          { siteId: 'sh-b', seq: 3 },
        ],
        [{ siteId: 'sh-c', seq: 1 }],
      ]);
      expect(await pages(1, 'sh-b')).toEqual([[{ siteId: 'sh-c', seq: 1 }]]);
      // a full last page: no empty page after it
      expect(await pages(3, 'sh-')).toEqual([
        [
          { siteId: 'sh-a', seq: 1 },
          { siteId: 'sh-b', seq: 3 },
          { siteId: 'sh-c', seq: 1 },
        ],
      ]);
      expect(await pages(2, 'sh-c')).toEqual([]);
      expect(await pages(0)).toEqual([]);
      const all = (await pages(1000)).flat();
      expect(all.map((h) => h.siteId)).toEqual(['sh-a', 'sh-b', 'sh-c']);
    });

    it('should walk the sites of many pages once each, and stop reading when the walk is left', async () => {
      const sites = Array.from({ length: 23 }, (_, i) => `walk-${String(i).padStart(2, '0')}`);
      await sut().appendToChains([...sites.map((s) => entry(s)), entry('walk-07')]);
      const read: SiteHead[][] = [];
      for await (const page of sut().siteHeadPages(5)) read.push(page);
      expect(read.map((page) => page.length)).toEqual([5, 5, 5, 5, 3]);
      expect(read.flat()).toEqual(
        sites.map((siteId) => ({ siteId, seq: siteId === 'walk-07' ? 2 : 1 })),
      );
      // a walk left after its first page (its reader's error): the next one starts over
      for await (const page of sut().siteHeadPages(5)) {
        expect(page[0].siteId).toBe('walk-00');
        break;
      }
    });

    it('should walk the sites of every page in one MongoDB aggregation, and go on after the last page given when its cursor is lost', async () => {
      if (driver() === 'sqlite') return; // in-process: a statement a page, each from its first site
      const sites = Array.from({ length: 60 }, (_, i) => `many-${String(i).padStart(2, '0')}`);
      const db = (store() as MongoStore).connection.db!;
      await db
        .collection('attendance_logs')
        .insertMany(sites.map((siteId, i) => ({ siteId, seq: 1, packetId: `p-${i}` })));
      // an adapter of its own on the same database, over a connection whose commands are seen
      const mongoose = await import('mongoose');
      const connection = mongoose.createConnection(MONGODB_URI!, {
        dbName: db.databaseName,
        monitorCommands: true,
      });
      await connection.asPromise();
      const aggregates: unknown[] = [];
      const cursorIds: unknown[] = [];
      connection.getClient().on('commandStarted', (e) => {
        if (e.commandName === 'aggregate') aggregates.push(e.command.pipeline);
      });
      connection.getClient().on('commandSucceeded', (e) => {
        if (e.commandName === 'aggregate')
          cursorIds.push((e.reply as { cursor: { id: unknown } }).cursor.id);
      });
      const monitored = new MongoStore(connection, true);
      const compiled = await compileAdapter<AttendanceLogRepository>(
        monitored,
        attendanceLogAdapters,
        {
          init: false,
        },
      );
      try {
        const walk = async (lose?: () => Promise<unknown>) => {
          const read: string[][] = [];
          for await (const page of compiled.adapter.siteHeadPages(25)) {
            read.push(page.map((h) => h.siteId));
            if (read.length === 1) await lose?.();
          }
          return read;
        };
        // pages of 25: a page's own aggregation (its $group before its $limit) read 60, 35 and 10 sites
        expect(await walk()).toEqual([sites.slice(0, 25), sites.slice(25, 50), sites.slice(50)]);
        expect(aggregates).toHaveLength(1);

        aggregates.length = 0;
        cursorIds.length = 0;
        // the cursor killed after the first page (an idle cursor's timeout, a failover)
        const pages = await walk(() =>
          connection.db!.command({ killCursors: 'attendance_logs', cursors: [cursorIds[0]] }),
        );
        expect(pages).toEqual([sites.slice(0, 25), sites.slice(25, 50), sites.slice(50)]);
        expect(aggregates).toHaveLength(2);
      } finally {
        await compiled.close();
        await monitored.close();
      }
    });

    it("should find a batch's predecessors in one MongoDB round trip (an aggregation per PREVIOUS_KEYS_PER_READ keys), each key's answer in its place", async () => {
      if (driver() === 'sqlite') return; // in-process: one statement already
      const link = (workerId: string, timestamp: string) => {
        const e = entry('RT');
        return { ...e, data: { ...e.data, timestamp, workerId } };
      };
      const links = [
        link('rt-1', '2026-01-01T08:00:00Z'),
        link('rt-1', '2026-01-01T09:00:00Z'),
        link('rt-2', '2026-01-01T08:30:00Z'),
      ];
      await sut().appendToChains(links);
      const key = (workerId: string, timestamp: string) => ({
        workerId,
        at: new Date(timestamp),
        packetId: 'ffffffff-ffff-4fff-bfff-ffffffffffff',
      });
      const db = (store() as MongoStore).connection.db!;
      const mongoose = await import('mongoose');
      const connection = mongoose.createConnection(MONGODB_URI!, {
        dbName: db.databaseName,
        monitorCommands: true,
      });
      await connection.asPromise();
      const commands: string[] = [];
      connection.getClient().on('commandStarted', (e) => {
        if (['find', 'aggregate', 'getMore'].includes(e.commandName)) commands.push(e.commandName);
      });
      const monitored = new MongoStore(connection, true);
      const compiled = await compileAdapter<AttendanceLogRepository>(
        monitored,
        attendanceLogAdapters,
        { init: false },
      );
      try {
        const some = [
          key('rt-1', '2026-01-01T08:30:00Z'),
          key('rt-2', '2026-01-02T00:00:00Z'),
          key('rt-1', '2026-01-02T00:00:00Z'),
          key('rt-1', '2026-01-01T07:00:00Z'),
          key('rt-3', '2026-01-02T00:00:00Z'),
        ];
        const answers = await compiled.adapter.findPreviousOfWorkers(some);
        expect(answers.map((log) => log?.data.packetId)).toEqual([
          links[0].packetId,
          links[2].packetId,
          links[1].packetId,
          undefined,
          undefined,
        ]);
        expect(commands).toEqual(['aggregate']);
        // more keys than one aggregation takes: one more, the answers in their places
        commands.length = 0;
        const many = Array.from({ length: PREVIOUS_KEYS_PER_READ + 1 }, (_, i) =>
          i % 2 ? key('rt-2', '2026-01-02T00:00:00Z') : key('rt-1', '2026-01-01T08:30:00Z'),
        );
        const manyAnswers = await compiled.adapter.findPreviousOfWorkers(many);
        expect(manyAnswers.map((log) => log?.data.packetId)).toEqual(
          many.map((_, i) => (i % 2 ? links[2].packetId : links[0].packetId)),
        );
        expect(commands).toEqual(['aggregate', 'aggregate']);
      } finally {
        await compiled.close();
        await monitored.close();
      }
    });

    it('should read a chain as the JCS texts that were hashed', async () => {
      await sut().appendToChains([entry('T'), entry('T'), entry('T')]);
      const links = await sut().readChain('T', 0, 10);
      const texts = await sut().readChainTexts('T', 1, 10);
      expect(texts.map((t) => t.seq)).toEqual([2, 3]);
      for (const text of texts) {
        const link = links[text.seq - 1];
        expect(text).toEqual({
          siteId: 'T',
          seq: link.seq,
          prevHash: link.prevHash,
          recordHash: link.recordHash,
          dataJcs: jcs(link.data),
          metaJcs: jcs(link.meta),
        });
        expect(recordHashOfText(text)).toBe(link.recordHash);
      }
    });

    it('should read a range of links as their texts and tags, and a page as links with them', async () => {
      await sut().appendToChains([entry('U'), entry('U'), entry('U'), entry('V')]);
      const links = await sut().readChain('U', 0, 10);
      const texts = await sut().readTaggedTexts('U', 2, 3);
      expect(texts.map((t) => t.seq)).toEqual([2, 3]);
      const page = await sut().readTaggedChain('U', 1, 10);
      expect(page.map((p) => p.log)).toEqual(links.slice(1));
      expect(page.map((p) => p.text)).toEqual(texts);
      for (const text of texts) {
        const link = links[text.seq - 1];
        expect(text).toEqual({
          siteId: 'U',
          seq: link.seq,
          prevHash: link.prevHash,
          recordHash: link.recordHash,
          dataJcs: jcs(link.data),
          metaJcs: jcs(link.meta),
          // an adapter made without StoreMac stores its links untagged
          mac: null,
          kid: null,
        });
        expect(recordHashOfText(text)).toBe(link.recordHash);
      }
    });

    it("should find a worker's previous packet by signed time (timestamp, then packetId), across sites", async () => {
      const at = (siteId: string, timestamp: string, workerId = 'w1', packetId = randomUUID()) => {
        const e = entry(siteId, packetId);
        return { ...e, data: { ...e.data, timestamp, workerId } };
      };
      const early = at('A', '2026-01-01T08:00:00Z');
      const later = at('B', '2026-01-01T08:00:00.500Z');
      const tieLow = at(
        'A',
        '2026-01-01T09:00:00.000Z',
        'w1',
        '00000000-0000-4000-8000-000000000001',
      );
      const tieHigh = at('A', '2026-01-01T09:00:00Z', 'w1', '00000000-0000-4000-8000-000000000002');
      const otherWorker = at('A', '2026-01-01T08:30:00Z', 'w2');
      // appended out of time order on purpose
      await sut().appendToChains([tieHigh, later, otherWorker, early, tieLow]);
      const key = (
        timestamp: string,
        packetId = 'ffffffff-ffff-4fff-bfff-ffffffffffff',
        workerId = 'w1',
      ) => ({
        workerId,
        at: new Date(timestamp),
        packetId,
      });
      const keys = [
        key('2026-01-01T08:00:00Z', early.packetId),
        key('2026-01-01T08:00:00.400Z'),
        key('2026-01-01T08:59:59Z'),
        key('2026-01-01T09:00:00Z', tieHigh.packetId),
        key('2026-01-01T09:00:00Z', tieLow.packetId),
        key('2026-01-02T00:00:00Z'),
        key('2026-01-02T00:00:00Z', undefined, 'w2'),
        key('2026-01-02T00:00:00Z', undefined, 'nobody'),
      ];
      const expected = [
        undefined,
        early.packetId,
        later.packetId,
        tieLow.packetId,
        later.packetId,
        tieHigh.packetId,
        otherWorker.packetId,
        undefined,
      ];
      // the whole batch in one lookup, and each key on its own, give the same answers
      const batch = await sut().findPreviousOfWorkers(keys);
      expect(batch.map((log) => log?.data.packetId)).toEqual(expected);
      for (const [i, k] of keys.entries()) {
        const [alone] = await sut().findPreviousOfWorkers([k]);
        expect(alone?.data.packetId).toBe(expected[i]);
      }
      // a batch whose earliest key's predecessor is before every key, ties at its instant
      const later2 = await sut().findPreviousOfWorkers([keys[5], keys[2], keys[6]]);
      expect(later2.map((log) => log?.data.packetId)).toEqual([
        tieHigh.packetId,
        later.packetId,
        otherWorker.packetId,
      ]);
      expect(batch[1]).toMatchObject({ siteId: 'A', seq: expect.any(Number), data: early.data });
      expect(await sut().findPreviousOfWorkers([])).toEqual([]);
      // the data-only read answers the same, each link's data equal to the whole link's
      for (const ks of [keys, [keys[5], keys[2], keys[6]], [keys[3]], []]) {
        const whole = await sut().findPreviousOfWorkers(ks);
        expect(await sut().findPreviousDataOfWorkers(ks)).toEqual(whole.map((log) => log?.data));
      }
      // with links the caller holds (as a sync holds the ones it just appended): the same
      // answers; where the store answers from a held link, it is the caller's own object
      // (SQLite reads only the others), and every link not held is read from the store
      const held = new Map(
        [later, tieHigh].map((p) => {
          const link = batch.find((log) => log?.data.packetId === p.packetId)!;
          return [`${link.siteId}/${link.seq}`, { ...link.data }] as const;
        }),
      );
      expect(held.size).toBe(2);
      const asked: string[] = [];
      const known = {
        dataAt: (siteId: string, seq: number) => {
          asked.push(`${siteId}/${seq}`);
          return held.get(`${siteId}/${seq}`);
        },
      };
      const withKnown = await sut().findPreviousDataOfWorkers(keys, known);
      expect(withKnown).toEqual(batch.map((log) => log?.data));
      if (driver() === 'sqlite') {
        expect(new Set(asked)).toEqual(
          new Set(batch.filter((log) => log).map((log) => `${log!.siteId}/${log!.seq}`)),
        );
        batch.forEach((log, i) => {
          const own = log && held.get(`${log.siteId}/${log.seq}`);
          if (own) expect(withKnown[i]).toBe(own);
        });
      }
      expect(await sut().findPreviousDataOfWorkers([], known)).toEqual([]);
      // held with every link in place (`bySite`, as a sync's batch): the same answers; SQLite
      // passes the held run over in its index and takes its places from the held data: a held
      // copy of `later` that names another worker is that worker's predecessor there
      // (every link of `later`'s site: one run of seqs)
      const laterLink = batch.find((log) => log?.data.packetId === later.packetId)!;
      const links = await sut().readChain(laterLink.siteId, 0, 1000);
      const bySite = new Map([
        [laterLink.siteId, new Map<number, LedgerEntryData>(links.map((l) => [l.seq, l.data]))],
      ]);
      const inPlace: KnownLinks = {
        dataAt: (siteId, seq) => bySite.get(siteId)?.get(seq),
        bySite: () => bySite,
      };
      expect(await sut().findPreviousDataOfWorkers(keys, inPlace)).toEqual(
        batch.map((log) => log?.data),
      );
      bySite
        .get(laterLink.siteId)!
        .set(laterLink.seq, { ...laterLink.data, workerId: 'w-renamed' });
      const [renamed] = await sut().findPreviousDataOfWorkers(
        [{ workerId: 'w-renamed', at: new Date('2027-01-01T00:00:00Z'), packetId: 'zz' }],
        inPlace,
      );
      expect(renamed?.packetId).toBe(driver() === 'sqlite' ? later.packetId : undefined);
      expect(await sut().findPreviousDataOfWorkers(keys, { dataAt: () => undefined })).toEqual(
        batch.map((log) => log?.data),
      );
    });

    it('should list the distinct workers of some devices within a time window', async () => {
      const on = (workerId: string, deviceId: string, timestamp: string) => {
        const e = entry('D');
        return { ...e, data: { ...e.data, workerId, deviceId, timestamp } };
      };
      const appended = await sut().appendToChains([
        on('w1', 'd1', '2026-01-01T08:00:00Z'),
        on('w2', 'd1', '2026-01-01T09:00:00Z'),
        on('w2', 'd1', '2026-01-01T09:30:00Z'),
        on('w3', 'd1', '2026-01-02T09:00:00Z'),
        on('w4', 'd2', '2026-01-01T09:00:00Z'),
      ]);
      const workers = (from: string, to: string, known?: KnownLinks) =>
        sut().listWorkersOfDevices(['d1'], new Date(from), new Date(to), known);
      const windows: [string, string, string[]][] = [
        ['2026-01-01T00:00:00Z', '2026-01-01T23:59:59Z', ['w1', 'w2']],
        ['2026-01-01T09:00:00Z', '2026-01-02T09:00:00Z', ['w2', 'w3']],
        ['2026-01-03T00:00:00Z', '2026-01-04T00:00:00Z', []],
      ];
      for (const [from, to, expected] of windows) expect(await workers(from, to)).toEqual(expected);
      const both = (known?: KnownLinks) =>
        sut().listWorkersOfDevices(
          ['d2', 'd1'],
          new Date('2026-01-01T08:30:00Z'),
          new Date('2026-01-01T09:00:00Z'),
          known,
        );
      expect(await both()).toEqual(['w2', 'w4']);

      // with links the caller holds (as a sync holds its own batch, here all five, or two
      // apart): the same answers
      const heldOf = (links: AttendanceLog[]): KnownLinks => {
        const bySite = new Map<string, Map<number, LedgerEntryData>>();
        for (const l of links) {
          if (!bySite.has(l.siteId)) bySite.set(l.siteId, new Map());
          bySite.get(l.siteId)!.set(l.seq, l.data);
        }
        return {
          dataAt: (siteId, seq) => bySite.get(siteId)?.get(seq),
          bySite: () => bySite,
        };
      };
      const links = appended.map((r) => r.log);
      for (const held of [links, [links[0], links[2]], []]) {
        for (const [from, to, expected] of windows)
          expect(await workers(from, to, heldOf(held))).toEqual(expected);
        expect(await both(heldOf(held))).toEqual(['w2', 'w4']);
      }
      // SQLite leaves the held run out of its read and takes its workers from the held data:
      // a held copy naming another worker shows which one was used (the store's own: w1)
      const renamed = links.map((l, i) =>
        i === 0 ? { ...l, data: { ...l.data, workerId: 'w9' } } : l,
      );
      expect(await workers(windows[0][0], windows[0][1], heldOf(renamed))).toEqual(
        driver() === 'sqlite' ? ['w2', 'w9'] : ['w1', 'w2'],
      );
    });
  },
);
