import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { StoreMac } from '@app/tlog';
import { dataDirApp, dropRetiredStoreMacKey } from './support/tamper';
import { http, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

const CLEARED = 'Timesheet read model tagged under a key not held';

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

  it('should flag the overlap on the site read first after the start that cleared the read model', async () => {
    let t = await server.start();
    const first = t.app.get(StoreMac).kid;
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
    const flaggedA = {
      flags: [
        { type: 'corrected', seq: atA },
        { type: 'overlaps_other_site', seq: atA, detail: b },
      ],
      flagged: true,
      flaggedDays: 1,
    };
    const flaggedB = {
      flags: [
        { type: 'corrected', seq: atB },
        { type: 'overlaps_other_site', seq: atB, detail: a },
      ],
      flagged: true,
      flaggedDays: 1,
    };
    expect(await read(t, a, workerId)).toEqual(flaggedA);
    expect(await read(t, b, workerId)).toEqual(flaggedB);

    // README "Rotating keys": the store-MAC key rotated, and the retired one dropped
    t = await server.restart((dataDir) => {
      rotateLocalKeys(dataDir, ['mac'], new Date());
      dropRetiredStoreMacKey(dataDir, first);
    });
    // A read first (before any read of B): its day flagged at once, not after B's read
    expect(await read(t, a, workerId)).toEqual(flaggedA);
    expect(t.logs()).toContain(CLEARED);
    expect(await read(t, b, workerId)).toEqual(flaggedB);
    expect(await read(t, a, workerId)).toEqual(flaggedA);
  });
});
