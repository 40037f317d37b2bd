import { retagStoreMac } from '@app/api/admin/keys-retag';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { LedgerService } from '@app/offline-sync';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { TimesheetProjector } from '@app/timesheets';
import { StoreMac } from '@app/tlog';
import { dataDirApp, dropRetiredStoreMacKey, withStoreFile } from './support/tamper';
import { http, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

const CLEARED = 'Timesheet read model tagged under a key not held';

/** A ledger link's row as stored (SQLite: the app's file; MongoDB: its collection). */
async function ledgerLink(t: TestApp, siteId: string, seq: number): Promise<Record<string, any>> {
  const store = t.app.get(Store);
  if (store instanceof MongoStore) {
    const { _id, ...doc } = (await store.connection
      .collection('attendance_logs')
      .findOne({ siteId, seq }))!;
    return { ...doc, recordHash: doc.recordHash as string };
  }
  const row = (store as SqliteStore).db
    .prepare('SELECT * FROM attendance_logs WHERE site_id = ? AND seq = ?')
    .get(siteId, seq) as Record<string, any>;
  return { ...row, recordHash: row.record_hash as string };
}

/** Writes the row back as given (a writer of the database: SQLite's table refuses UPDATE). */
async function writeLedgerLink(t: TestApp, link: Record<string, any>): Promise<void> {
  const store = t.app.get(Store);
  if (store instanceof MongoStore) {
    await store.connection
      .collection('attendance_logs')
      .replaceOne({ siteId: link.siteId, seq: link.seq }, link);
    return;
  }
  const { recordHash, ...row } = link;
  row.record_hash = recordHash;
  const columns = Object.keys(row);
  (store as SqliteStore).db
    .prepare(
      `INSERT OR REPLACE INTO attendance_logs (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
    )
    .run(...columns.map((c) => row[c]));
}

/**
 * Review F1 (outside tester, MED-HIGH): `overlaps_other_site` is computed from the other site's
 * rows of the timesheet read model. After a start that cleared the read model (a store-MAC key
 * dropped from STORE_MAC_RETIRED_KEYS, as README "Rotating keys" says), each site is re-read
 * from its ledger at its first read: the site read first was computed before the other site's
 * rows were back, so its payroll showed `flaggedDays: 0` for a worker paid twice, until someone
 * read the other site. The flag must not depend on which site is read first.
 */
describe('timesheets: a worker on two sites, after the read model is cleared (e2e)', () => {
  const server = dataDirApp('ts-xsite-reset', { TRUST_AUTO_BLOCK_FLOOR: '0' });

  const day = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
  const period = `from=${day}&to=${day}`;

  const addShift = async (
    t: TestApp,
    siteId: string,
    workerId: string,
    at: string,
    until: string,
  ) => {
    const res = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      key: t.keys.admin,
      body: {
        action: 'add_shift',
        workerId,
        at: `${day}T${at}Z`,
        until: `${day}T${until}Z`,
        reason: 'site register',
      },
    });
    expect(res.status).toBe(201);
    return res.body.seq as number;
  };
  /** The worker's day at the site as the timesheets and the payroll answer it. */
  const read = async (t: TestApp, siteId: string, workerId: string) => {
    const days = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/timesheets?${period}&workerId=${workerId}`,
      { key: t.keys.admin },
    );
    const payroll = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/payroll?${period}&workerId=${workerId}`,
      { key: t.keys.auditor },
    );
    expect([days.status, payroll.status]).toEqual([200, 200]);
    return {
      flags: days.body.days[0].flags as Array<Record<string, unknown>>,
      flagged: days.body.days[0].flagged as boolean,
      flaggedDays: payroll.body.workers[0].flaggedDays as number,
    };
  };

  /** Sites A and B, Sita on both, the tester's overlapping shifts, each flagged on both. */
  async function twoSiteOverlap(t: TestApp) {
    const a = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    const b = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    const worker = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'Sita Devi', phone: '+91 98765 10101', siteIds: [a, b] },
    });
    expect(worker.status).toBe(201);
    const workerId = worker.body.workerId as string;
    // the tester's shifts: 09:00–17:30 IST at A, 10:00–14:00 IST at B
    const atA = await addShift(t, a, workerId, '03:30:00.000', '12:00:00.000');
    const atB = await addShift(t, b, workerId, '04:30:00.000', '08:30:00.000');
    const flagged = (seq: number, other: string) => ({
      flags: [
        { type: 'corrected', seq },
        { type: 'overlaps_other_site', seq, detail: other },
      ],
      flagged: true,
      flaggedDays: 1,
    });
    const flaggedA = flagged(atA, b);
    const flaggedB = flagged(atB, a);
    expect(await read(t, a, workerId)).toEqual(flaggedA);
    expect(await read(t, b, workerId)).toEqual(flaggedB);
    return { a, b, workerId, atA, flaggedA, flaggedB };
  }

  /**
   * README "Rotating keys": the store-MAC key rotated, every row re-tagged under the new key
   * (`keys:retag`: the workers' records too, which read tampered under a key dropped before),
   * the retired key dropped, restarted.
   */
  const restartDroppingMacKey = async (first: string, env?: Record<string, string>) => {
    const rotated = await server.restart(
      (dataDir) => rotateLocalKeys(dataDir, ['mac'], new Date()),
      env,
    );
    expect(await retagStoreMac(rotated.app, { except: [], force: false }, () => undefined)).toBe(0);
    return server.restart((dataDir) => dropRetiredStoreMacKey(dataDir, first), env);
  };

  it('should flag the overlap on the site read first after the start that cleared the read model', async () => {
    let t = await server.start();
    const first = t.app.get(StoreMac).kid;
    const { a, b, workerId, flaggedA, flaggedB } = await twoSiteOverlap(t);

    t = await restartDroppingMacKey(first);
    // A read first (before any read of B): its day flagged at once, not after B's read
    expect(await read(t, a, workerId)).toEqual(flaggedA);
    expect(t.logs()).toContain(CLEARED);
    expect(await read(t, b, workerId)).toEqual(flaggedB);
    expect(await read(t, a, workerId)).toEqual(flaggedA);
  });

  /**
   * Review MED: the other sites were caught up in ONE queued step before the site's own, so with
   * many other sites every read of any site queued meanwhile waited for all of them. Each other
   * site is now a step of its own: a read of another site queued while the first other site is
   * caught up answers before the second is. Told by order (the ledger's head read by each
   * catch-up, observed and passed through), not by time.
   */
  it('should catch up each other site in a queued step of its own, and still flag on the site read first', async () => {
    let t = await server.start({ TIMESHEET_LEDGER_CHECK_MS: '3600000' });
    const first = t.app.get(StoreMac).kid;
    const a = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    const b = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    const c = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    const d = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    const worker = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'Sita Devi', phone: '+91 98765 10102', siteIds: [a, b, c] },
    });
    expect(worker.status).toBe(201);
    const workerId = worker.body.workerId as string;
    // 09:00–17:30 IST at A, 10:00–12:00 at B, 13:00–15:00 at C
    const atA = await addShift(t, a, workerId, '03:30:00.000', '12:00:00.000');
    await addShift(t, b, workerId, '04:30:00.000', '06:30:00.000');
    await addShift(t, c, workerId, '07:30:00.000', '09:30:00.000');

    // the sites' records are tagged too (SiteSeal): re-tagged before the key is dropped, as the
    // README says, or they read tampered (site_tampered), not as sites to catch up
    t = await restartDroppingMacKey(first, { TIMESHEET_LEDGER_CHECK_MS: '3600000' });
    const projector = t.app.get(TimesheetProjector);
    const ledger = t.app.get(LedgerService);
    // D read once: its next read queues at once (no other sites of its own to wait for)
    await projector.ensureReadable(d);
    const order: string[] = [];
    let readOfD: Promise<unknown> | undefined;
    const headSeq = ledger.headSeq.bind(ledger);
    const spy = jest.spyOn(ledger, 'headSeq').mockImplementation((siteId: string) => {
      if (siteId === b || siteId === c) {
        order.push('other site');
        // queued while the first other site is caught up
        readOfD ??= projector.ensureReadable(d).then(() => order.push('read of D'));
      }
      return headSeq(siteId);
    });
    try {
      await projector.ensureReadable(a).then(() => order.push('read of A'));
      await readOfD;
    } finally {
      spy.mockRestore();
    }
    expect(order).toEqual(['other site', 'read of D', 'other site', 'read of A']);
    // A, read first after the reset, flagged with both other sites' shifts
    const days = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${a}/timesheets?${period}&workerId=${workerId}`,
      { key: t.keys.admin },
    );
    expect(days.status).toBe(200);
    expect(days.body.days[0].flags).toEqual([
      { type: 'corrected', seq: atA },
      ...[b, c].sort().map((other) => ({ type: 'overlaps_other_site', seq: atA, detail: other })),
    ]);
  });

  /**
   * Review MED-3: the catch-up of the other sites rethrew anything but a rebuild, so a worker at
   * A and B, B's record changed in the database (503 site_tampered for B), made every read of A
   * answer 503 naming B. A answers and says so; B stays refused.
   */
  it('should answer a site whose worker has another site that reads tampered, and warn', async () => {
    let t = await server.start();
    const first = t.app.get(StoreMac).kid;
    const { a, b, workerId, atA } = await twoSiteOverlap(t);
    t = await restartDroppingMacKey(first);
    // B's time zone changed in the database after the start that cleared the read model
    const store = t.app.get(Store);
    if (store instanceof MongoStore) {
      await store.connection
        .collection('sites')
        .updateOne({ _id: b as never }, { $set: { timeZone: 'Pacific/Kiritimati' } });
    } else {
      withStoreFile(t, (db) =>
        db.prepare("UPDATE sites SET time_zone = 'Pacific/Kiritimati' WHERE id = ?").run(b),
      );
    }
    // answered (200), its own shift; B's shift is flagged only as far as the read model had it
    expect((await read(t, a, workerId)).flags).toContainEqual({ type: 'corrected', seq: atA });
    expect(t.logs()).toContain('another site of its workers reads tampered');
    const atB = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${b}/timesheets?${period}&workerId=${workerId}`,
      { key: t.keys.admin },
    );
    expect([atB.status, atB.body.code, atB.body.errors]).toEqual([
      503,
      'site_tampered',
      [{ field: 'siteId', message: b }],
    ]);
  });

  it('should warn while the other site stops before a sealed link, and flag once it is put back', async () => {
    let t = await server.start();
    const first = t.app.get(StoreMac).kid;
    const { a, b, workerId, atA, flaggedA } = await twoSiteOverlap(t);
    // B's one link (its added shift) rewritten in the database after its seal
    const saved = await ledgerLink(t, b, 1);
    await writeLedgerLink(t, { ...saved, recordHash: 'f'.repeat(64) });

    t = await restartDroppingMacKey(first);
    // A answers (its own chain checks), without the flag of B's shift it cannot read, and says so
    expect(await read(t, a, workerId)).toEqual({
      flags: [{ type: 'corrected', seq: atA }],
      flagged: false,
      flaggedDays: 0,
    });
    const warned = t
      .logs()
      .split('\n')
      .filter((line) => line.includes('another site of its workers stops'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(
      warned.map(({ level, siteId, otherSiteId, seq }) => ({ level, siteId, otherSiteId, seq })),
    ).toEqual([{ level: 40, siteId: a, otherSiteId: b, seq: 1 }]);
    const atB = await http(t.baseUrl, 'GET', `/api/v5/sites/${b}/timesheets?${period}`, {
      key: t.keys.admin,
    });
    expect([atB.status, atB.body?.code]).toEqual([503, 'timesheets_ledger_unverified']);

    // the link put back as sealed: A's next read reads B again, whose recompute flags A's day
    await writeLedgerLink(t, saved);
    expect(await read(t, a, workerId)).toEqual(flaggedA);
  });
});
