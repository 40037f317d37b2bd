import { parse } from 'csv-parse/sync';
import { ManualClock } from '@app/common';
import { TimesheetProjector } from '@app/timesheets';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { http, TestApp } from './support/test-app';
import {
  createSite,
  punch,
  signedBy,
  startTimesheetApp,
  sync,
  ThekedarDevice,
  thekedarWithDevice,
  workerDay,
  workerPayroll,
} from './support/timesheet-client';
import { nextPhoneNumber, Phone, registerPhone } from './support/worker-client';

/**
 * A worker assigned to two sites is paid per site: hours punched at both sites at once would be
 * paid twice. A worker-day whose shift overlaps in time a shift of the same worker at another
 * site is flagged `overlaps_other_site` (naming the other site) on both sites' timesheets,
 * whichever site's punches sync first, until a correction removes the overlap; and a day
 * booked past the longest shift is flagged `over_max_hours`.
 */
describe('timesheets: a worker on two sites at once (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-03-01T00:00:00.000Z');
  let s1: string;
  let s2: string;
  let sims = 0;
  /** Phones registered on 1 March (a punch is accepted from its token's issue on). */
  const phones: Phone[] = [];
  const twoSiteWorker = async () => phones.shift()!;

  /** A worker of both sites, its phone registered at s1 (its packets name either site). */
  async function enrollTwoSiteWorker(): Promise<Phone> {
    sims += 1;
    const worker = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'Sita Devi', phone: nextPhoneNumber('+91 98763'), siteIds: [s1, s2] },
    });
    expect(worker.status).toBe(201);
    return registerPhone(t.baseUrl, worker.body, s1, `ts-xsite-${process.pid}-${sims}`);
  }
  /** One punch at a site, synced alone; its seq. */
  const punchAt = async (
    phone: Phone,
    siteId: string,
    type: 'check_in' | 'check_out',
    at: string,
  ) => {
    const res = await sync(t.baseUrl, phone, [punch({ ...phone, siteId }, type, at)]);
    expect(res.results).toEqual([expect.objectContaining({ status: 'accepted' })]);
    return res.results[0].seq!;
  };
  const dayOf = (siteId: string, phone: Phone, day: string) => workerDay(t, siteId, phone, day);
  const flagsOf = async (siteId: string, phone: Phone, day: string) =>
    ((await dayOf(siteId, phone, day))?.flags ?? []) as Array<Record<string, unknown>>;
  const payrollOf = (siteId: string, phone: Phone, from: string, to: string) =>
    workerPayroll(t, siteId, phone, from, to);
  const correct = (siteId: string, body: Record<string, unknown>) =>
    http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      body: { reason: 'site register', ...body },
      key: t.keys.admin,
    });

  beforeAll(async () => {
    t = await startTimesheetApp(clock);
    s1 = (await createSite(t.baseUrl, t.keys.admin, 'UTC')).siteId;
    s2 = (await createSite(t.baseUrl, t.keys.admin, 'UTC')).siteId;
    for (let i = 0; i < 7; i++) phones.push(await enrollTwoSiteWorker());
    clock.set('2026-03-20T06:00:00.000Z');
  });
  afterAll(async () => t.close());

  it("should flag both sites' days of a night worked at both at once, in the day, the payroll and the CSV", async () => {
    const phone = await twoSiteWorker();
    // the tester's order: each site's check-in, then each one's check-out
    const in1 = await punchAt(phone, s1, 'check_in', '2026-03-02T18:00:00Z');
    const in2 = await punchAt(phone, s2, 'check_in', '2026-03-02T19:00:00Z');
    await punchAt(phone, s1, 'check_out', '2026-03-03T01:00:00Z');
    await punchAt(phone, s2, 'check_out', '2026-03-03T02:00:00Z');
    const d1 = await dayOf(s1, phone, '2026-03-02');
    const d2 = await dayOf(s2, phone, '2026-03-02');
    // hours stay as punched until a supervisor corrects one site
    expect(d1).toMatchObject({
      workedSeconds: 7 * 3600,
      flags: [{ type: 'overlaps_other_site', seq: in1, detail: s2 }],
      flagged: true,
    });
    expect(d2).toMatchObject({
      workedSeconds: 7 * 3600,
      flags: [{ type: 'overlaps_other_site', seq: in2, detail: s1 }],
      flagged: true,
    });
    for (const [site, other, seq] of [
      [s1, s2, in1],
      [s2, s1, in2],
    ] as const) {
      expect(await payrollOf(site, phone, '2026-03-01', '2026-03-31')).toMatchObject({
        workedSeconds: 7 * 3600,
        flaggedDays: 1,
      });
      const csv = await http(
        t.baseUrl,
        'GET',
        `/api/v5/sites/${site}/timesheets.csv?from=2026-03-02&to=2026-03-02&workerId=${phone.workerId}`,
        { key: t.keys.admin },
      );
      expect(csv.status).toBe(200);
      const [row] = parse<Record<string, string>>(csv.body as string, { columns: true });
      expect(row.flags).toBe(`overlaps_other_site:${other}@${seq}`);
    }
  });

  it("should flag both whichever site's punches sync first, and not shifts that only touch", async () => {
    const phone = await twoSiteWorker();
    // s2's whole shift first, then s1's: s1's recompute marks s2's day
    const in2 = await punchAt(phone, s2, 'check_in', '2026-03-04T19:00:00Z');
    await punchAt(phone, s2, 'check_out', '2026-03-05T02:00:00Z');
    expect(await flagsOf(s2, phone, '2026-03-04')).toEqual([]);
    const in1 = await punchAt(phone, s1, 'check_in', '2026-03-04T18:00:00Z');
    await punchAt(phone, s1, 'check_out', '2026-03-05T01:00:00Z');
    expect(await flagsOf(s2, phone, '2026-03-04')).toEqual([
      { type: 'overlaps_other_site', seq: in2, detail: s1 },
    ]);
    expect(await flagsOf(s1, phone, '2026-03-04')).toEqual([
      { type: 'overlaps_other_site', seq: in1, detail: s2 },
    ]);
    // a shift at one site that ends when the next starts at the other: no overlap
    await punchAt(phone, s1, 'check_in', '2026-03-06T06:00:00Z');
    await punchAt(phone, s1, 'check_out', '2026-03-06T10:00:00Z');
    await punchAt(phone, s2, 'check_in', '2026-03-06T10:00:00Z');
    await punchAt(phone, s2, 'check_out', '2026-03-06T14:00:00Z');
    expect(await flagsOf(s1, phone, '2026-03-06')).toEqual([]);
    expect(await flagsOf(s2, phone, '2026-03-06')).toEqual([]);
  });

  it('should clear both flags when a void or a move removes the overlap, and raise them when an add_check_out makes one', async () => {
    const phone = await twoSiteWorker();
    await punchAt(phone, s1, 'check_in', '2026-03-08T18:00:00Z');
    const in2 = await punchAt(phone, s2, 'check_in', '2026-03-08T19:00:00Z');
    await punchAt(phone, s1, 'check_out', '2026-03-09T01:00:00Z');
    await punchAt(phone, s2, 'check_out', '2026-03-09T02:00:00Z');
    expect(await payrollOf(s1, phone, '2026-03-08', '2026-03-08')).toMatchObject({
      flaggedDays: 1,
    });
    // s2's check-in was punched early: moved to when s1's shift ended
    const moved = await correct(s2, {
      action: 'move',
      target: { siteId: s2, seq: in2 },
      at: '2026-03-09T01:00:00.000Z',
    });
    expect(moved.status).toBe(201);
    expect((await flagsOf(s1, phone, '2026-03-08')).map((f) => f.type)).toEqual([]);
    expect((await flagsOf(s2, phone, '2026-03-09')).map((f) => f.type)).toEqual(['corrected']);
    expect(await payrollOf(s1, phone, '2026-03-08', '2026-03-09')).toMatchObject({
      flaggedDays: 0,
    });

    // a void: the other site's shift taken out
    const in1 = await punchAt(phone, s1, 'check_in', '2026-03-10T06:00:00Z');
    await punchAt(phone, s1, 'check_out', '2026-03-10T14:00:00Z');
    const wrongIn = await punchAt(phone, s2, 'check_in', '2026-03-10T08:00:00Z');
    const wrongOut = await punchAt(phone, s2, 'check_out', '2026-03-10T12:00:00Z');
    expect(await flagsOf(s1, phone, '2026-03-10')).toEqual([
      { type: 'overlaps_other_site', seq: in1, detail: s2 },
    ]);
    for (const seq of [wrongIn, wrongOut]) {
      expect((await correct(s2, { action: 'void', target: { siteId: s2, seq } })).status).toBe(201);
    }
    expect(await flagsOf(s1, phone, '2026-03-10')).toEqual([]);
    expect((await dayOf(s2, phone, '2026-03-10')).flagged).toBe(false);

    // an open check-in at s1 beside a shift at s2 (no overlap), then its forgotten check-out
    const open = await punchAt(phone, s1, 'check_in', '2026-03-12T06:00:00Z');
    const in3 = await punchAt(phone, s2, 'check_in', '2026-03-12T09:00:00Z');
    await punchAt(phone, s2, 'check_out', '2026-03-12T12:00:00Z');
    expect(await flagsOf(s2, phone, '2026-03-12')).toEqual([]);
    const closed = await correct(s1, {
      action: 'add_check_out',
      target: { siteId: s1, seq: open },
      at: '2026-03-12T14:00:00.000Z',
    });
    expect(closed.status).toBe(201);
    expect(await flagsOf(s2, phone, '2026-03-12')).toEqual([
      { type: 'overlaps_other_site', seq: in3, detail: s1 },
    ]);
    expect(await flagsOf(s1, phone, '2026-03-12')).toContainEqual({
      type: 'overlaps_other_site',
      seq: open,
      detail: s2,
    });
  });

  it('should record an add_shift overlapping a shift at another site, flagged on both', async () => {
    const phone = await twoSiteWorker();
    const in2 = await punchAt(phone, s2, 'check_in', '2026-03-14T06:00:00Z');
    await punchAt(phone, s2, 'check_out', '2026-03-14T14:00:00Z');
    const added = await correct(s1, {
      action: 'add_shift',
      workerId: phone.workerId,
      at: '2026-03-14T10:00:00.000Z',
      until: '2026-03-14T18:00:00.000Z',
    });
    expect(added.status).toBe(201);
    expect(await flagsOf(s1, phone, '2026-03-14')).toEqual([
      { type: 'corrected', seq: added.body.seq },
      { type: 'overlaps_other_site', seq: added.body.seq, detail: s2 },
    ]);
    expect(await flagsOf(s2, phone, '2026-03-14')).toEqual([
      { type: 'overlaps_other_site', seq: in2, detail: s1 },
    ]);
    // voided: both clear
    const voided = await correct(s1, {
      action: 'void',
      target: { siteId: s1, seq: added.body.seq },
    });
    expect(voided.status).toBe(201);
    expect(await flagsOf(s2, phone, '2026-03-14')).toEqual([]);
  });

  it('should flag a day booked past the longest shift with touching added shifts', async () => {
    const phone = await twoSiteWorker();
    const seqs: number[] = [];
    // three touching 8 h shifts on 16 March and three on 17 March: 48 h over two days
    for (const [at, until] of [
      ['2026-03-16T00:00:00.000Z', '2026-03-16T08:00:00.000Z'],
      ['2026-03-16T08:00:00.000Z', '2026-03-16T16:00:00.000Z'],
      ['2026-03-16T16:00:00.000Z', '2026-03-17T00:00:00.000Z'],
      ['2026-03-17T00:00:00.000Z', '2026-03-17T08:00:00.000Z'],
      ['2026-03-17T08:00:00.000Z', '2026-03-17T16:00:00.000Z'],
      ['2026-03-17T16:00:00.000Z', '2026-03-18T00:00:00.000Z'],
    ]) {
      const res = await correct(s1, { action: 'add_shift', workerId: phone.workerId, at, until });
      expect(res.status).toBe(201);
      seqs.push(res.body.seq);
    }
    // the shift that takes the day past 16 h names the flag
    expect(await flagsOf(s1, phone, '2026-03-16')).toContainEqual({
      type: 'over_max_hours',
      seq: seqs[2],
    });
    expect(await payrollOf(s1, phone, '2026-03-16', '2026-03-17')).toMatchObject({
      workedSeconds: 48 * 3600,
      flaggedDays: 2,
    });
  });

  it('should acknowledge a real double shift past the longest shift until the day changes, as a ledger entry', async () => {
    const phone = await twoSiteWorker();
    // a double shift on 18 March: 12 h, then 13 h from 12:30 (25 h on the day)
    const in1 = await punchAt(phone, s1, 'check_in', '2026-03-18T00:00:00Z');
    await punchAt(phone, s1, 'check_out', '2026-03-18T12:00:00Z');
    const in2 = await punchAt(phone, s1, 'check_in', '2026-03-18T12:30:00Z');
    await punchAt(phone, s1, 'check_out', '2026-03-19T01:30:00Z');
    const DAY = '2026-03-18';
    expect(await flagsOf(s1, phone, DAY)).toEqual([{ type: 'over_max_hours', seq: in2 }]);
    const acknowledge = (seq: number, extra: Record<string, unknown> = {}) =>
      correct(s1, {
        action: 'acknowledge_over_max_hours',
        target: { siteId: s1, seq },
        reason: 'double shift, site register',
        ...extra,
      });

    // the flag's own seq only, and no time
    const other = await acknowledge(in1);
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('not_over_max_hours');
    expect(other.body.message).toContain(`seq ${in2}`);
    expect((await acknowledge(in2, { at: '2026-03-18T12:30:00.000Z' })).body.code).toBe(
      'unexpected_time',
    );

    const correctionId = '0b6f3e2a-4c1d-4e8f-9a7b-3c2d1e0f9a8b';
    const ack = await acknowledge(in2, { correctionId });
    expect(ack.status).toBe(201);
    const acknowledged = await dayOf(s1, phone, DAY);
    expect(acknowledged).toMatchObject({
      workedSeconds: 25 * 3600,
      flags: [
        { type: 'corrected', seq: ack.body.seq },
        { type: 'over_max_hours_acknowledged', seq: ack.body.seq },
      ],
      flagged: false,
      corrected: true,
    });
    expect(acknowledged.seqs).toContain(ack.body.seq);
    expect(await payrollOf(s1, phone, DAY, DAY)).toMatchObject({
      flaggedDays: 0,
      correctedDays: 1,
    });
    const csv = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${s1}/timesheets.csv?from=${DAY}&to=${DAY}&workerId=${phone.workerId}`,
      { key: t.keys.admin },
    );
    const [row] = parse<Record<string, string>>(csv.body as string, { columns: true });
    expect(row.flags).toBe(
      `corrected@${ack.body.seq}; over_max_hours_acknowledged@${ack.body.seq}`,
    );
    // once: the same correction again is a duplicate, another acknowledgement a conflict
    expect((await acknowledge(in2, { correctionId })).status).toBe(200);
    const twice = await acknowledge(in2);
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe('already_acknowledged');
    // in the ledger like any correction: its action, its target, its author
    const exported = await http(t.baseUrl, 'GET', `/api/v5/ledger/${s1}/export`, {
      key: t.keys.admin,
    });
    const link = (exported.body as string)
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { seq: number; data: Record<string, any> })
      .find((l) => l.seq === ack.body.seq)!;
    expect(link.data).toMatchObject({
      kind: 'timesheet_correction',
      action: 'acknowledge_over_max_hours',
      target: { siteId: s1, seq: in2 },
      reason: 'double shift, site register',
      by: { kind: 'admin' },
    });

    // the day changes after it (half an hour added between the shifts): a look again
    const added = await correct(s1, {
      action: 'add_shift',
      workerId: phone.workerId,
      at: '2026-03-18T12:00:00.000Z',
      until: '2026-03-18T12:30:00.000Z',
    });
    expect(added.status).toBe(201);
    expect(await dayOf(s1, phone, DAY)).toMatchObject({ flagged: true });
    expect(await flagsOf(s1, phone, DAY)).toContainEqual({ type: 'over_max_hours', seq: in2 });
    const again = await acknowledge(in2);
    expect(again.status).toBe(201);
    expect(await flagsOf(s1, phone, DAY)).toContainEqual({
      type: 'over_max_hours_acknowledged',
      seq: again.body.seq,
    });
    expect((await dayOf(s1, phone, DAY)).flagged).toBe(false);
    // and a void of the acknowledgement undoes it
    const undone = await correct(s1, {
      action: 'void',
      target: { siteId: s1, seq: again.body.seq },
    });
    expect(undone.status).toBe(201);
    expect(await flagsOf(s1, phone, DAY)).toContainEqual({ type: 'over_max_hours', seq: in2 });
    expect(await payrollOf(s1, phone, DAY, DAY)).toMatchObject({ flaggedDays: 1 });
  });

  it('should not hold an acknowledgement once a shift left the day, or a void past midnight re-paired it', async () => {
    const phone = await twoSiteWorker();
    const DAY = '2026-03-08';
    // 4 h, 6 h, then 13 h to 01:30 the next day (23 h), and a stray check-out at 04:00 then,
    // flagged on this day (the night's: it follows the 12:30 check-in within the longest shift),
    // so the day stays flagged for it whatever the acknowledgement: its over_max_hours is what
    // the acknowledgement holds for or not
    const acknowledged = async () => {
      const types = (await flagsOf(s1, phone, DAY)).map((f) => f.type);
      return types.includes('over_max_hours_acknowledged') && !types.includes('over_max_hours');
    };
    const aIn = await punchAt(phone, s1, 'check_in', '2026-03-08T00:00:00Z');
    await punchAt(phone, s1, 'check_out', '2026-03-08T04:00:00Z');
    const cIn = await punchAt(phone, s1, 'check_in', '2026-03-08T04:30:00Z');
    const cOut = await punchAt(phone, s1, 'check_out', '2026-03-08T10:30:00Z');
    const bIn = await punchAt(phone, s1, 'check_in', '2026-03-08T12:30:00Z');
    const bOut = await punchAt(phone, s1, 'check_out', '2026-03-09T01:30:00Z');
    const stray = await punchAt(phone, s1, 'check_out', '2026-03-09T04:00:00Z');
    expect(await flagsOf(s1, phone, DAY)).toContainEqual({
      type: 'check_out_without_check_in',
      seq: stray,
    });
    const acknowledge = () =>
      correct(s1, {
        action: 'acknowledge_over_max_hours',
        target: { siteId: s1, seq: bIn },
        reason: 'double shift, site register',
      });
    const first = await acknowledge();
    expect(first.status).toBe(201);
    expect(await acknowledged()).toBe(true);
    // the first shift moved to the day before: its seqs (and the move's) leave this day, no
    // newer seq joins it, and the day (19 h) is not the one acknowledged
    const moved = await correct(s1, {
      action: 'move',
      target: { siteId: s1, seq: aIn },
      at: '2026-03-07T20:00:00.000Z',
    });
    expect(moved.status).toBe(201);
    expect(await dayOf(s1, phone, DAY)).toMatchObject({ workedSeconds: 19 * 3600, flagged: true });
    expect(await flagsOf(s1, phone, DAY)).toContainEqual({ type: 'over_max_hours', seq: bIn });
    const second = await acknowledge();
    expect(second.status).toBe(201);
    expect(await acknowledged()).toBe(true);
    // the check-out voided (a voided entry stays on its own day, the next one): the check-in
    // pairs with the stray 04:00 check-out, the day grows to 21.5 h with no newer seq in it
    const voided = await correct(s1, { action: 'void', target: { siteId: s1, seq: bOut } });
    expect(voided.status).toBe(201);
    expect(await dayOf(s1, phone, DAY)).toMatchObject({
      workedSeconds: 21.5 * 3600,
      flagged: true,
    });
    expect(await flagsOf(s1, phone, DAY)).toContainEqual({ type: 'over_max_hours', seq: bIn });
    // the acknowledgement records the day it acknowledged
    const exported = await http(t.baseUrl, 'GET', `/api/v5/ledger/${s1}/export`, {
      key: t.keys.admin,
    });
    const link = (exported.body as string)
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { seq: number; data: Record<string, any> })
      .find((l) => l.seq === second.body.seq)!;
    expect(link.data.daySeqs).toEqual([cIn, cOut, bIn, bOut, stray, first.body.seq]);
  });

  it('should give the same entries and days on both sites after a rebuild from the ledger', async () => {
    const projector = t.app.get(TimesheetProjector);
    const repo = t.app.get(TimesheetRepository, { strict: false });
    const snapshot = async () => {
      const out: unknown[] = [];
      for (const siteId of [s1, s2]) {
        out.push(await repo.listEntries(siteId, 0, 1_000_000));
        out.push(
          (await repo.listDays({ siteId, fromDay: '2026-03-01', toDay: '2026-03-31', limit: 1e6 }))
            .days,
        );
      }
      return out;
    };
    await projector.ensureReadable(s1);
    await projector.ensureReadable(s2);
    const incremental = await snapshot();
    expect(JSON.stringify(incremental)).toContain('overlaps_other_site');
    await projector.rebuildSite(s1);
    expect(await snapshot()).toEqual(incremental);
    await projector.rebuildSite(s2);
    expect(await snapshot()).toEqual(incremental);
  });
  it('should name the other site to a key and to a thekedar of both sites, and to a thekedar of this site only say another site, in the day, the payroll and the CSV', async () => {
    // a thekedar of s1 only, and one of both sites, each with a worker of both sites (a
    // thekedar onboards at its own sites; an admin adds s2)
    const onlyS1 = await thekedarWithDevice(t.baseUrl, t.keys.admin, [s1]);
    const both = await thekedarWithDevice(t.baseUrl, t.keys.admin, [s1, s2]);
    const crewOf = new Map<ThekedarDevice, Phone>();
    for (const k of [onlyS1, both]) {
      clock.advance(1000);
      sims += 1;
      const body = { name: 'Crew member', phone: nextPhoneNumber('+91 98762'), siteIds: [s1] };
      const worker = await http(t.baseUrl, 'POST', '/api/v5/workers', {
        body,
        headers: signedBy(k, body, clock.now().toISOString()),
      });
      expect(worker.status).toBe(201);
      const moved = await http(t.baseUrl, 'PATCH', `/api/v5/workers/${worker.body.workerId}`, {
        key: t.keys.admin,
        body: { siteIds: [s1, s2] },
      });
      expect(moved.status).toBe(200);
      // registered after: its token names both sites
      crewOf.set(
        k,
        await registerPhone(t.baseUrl, worker.body, s1, `ts-xsite-${process.pid}-${sims}`),
      );
    }
    clock.set('2026-03-23T06:00:00.000Z');
    const seqs = new Map<Phone, { s1: number; s2: number }>();
    for (const phone of crewOf.values()) {
      const in1 = await punchAt(phone, s1, 'check_in', '2026-03-21T18:00:00Z');
      const in2 = await punchAt(phone, s2, 'check_in', '2026-03-21T19:00:00Z');
      await punchAt(phone, s1, 'check_out', '2026-03-22T01:00:00Z');
      await punchAt(phone, s2, 'check_out', '2026-03-22T02:00:00Z');
      seqs.set(phone, { s1: in1, s2: in2 });
    }
    /** A thekedar's signed GET (each its own timestamp: a signature is used once). */
    const signedGet = (k: ThekedarDevice, path: string) => {
      clock.advance(1000);
      return http(t.baseUrl, 'GET', path, {
        headers: signedBy(k, { method: 'GET', path }, clock.now().toISOString()),
      });
    };
    const period = (phone: Phone) => `from=2026-03-21&to=2026-03-21&workerId=${phone.workerId}`;
    /** The day, the payroll and the CSV of the worker at `site`, as `read` answers them. */
    const reads = async (
      read: (path: string) => Promise<{ status: number; body: any }>,
      site: string,
      phone: Phone,
    ) => {
      const day = await read(`/api/v5/sites/${site}/timesheets?${period(phone)}`);
      const payroll = await read(`/api/v5/sites/${site}/payroll?${period(phone)}`);
      const csv = await read(`/api/v5/sites/${site}/timesheets.csv?${period(phone)}`);
      for (const res of [day, payroll, csv]) expect(res.status).toBe(200);
      const [row] = parse<Record<string, string>>(csv.body as string, { columns: true });
      return {
        flags: day.body.days[0].flags,
        flagged: day.body.days[0].flagged,
        flaggedDays: payroll.body.workers[0].flaggedDays,
        csvFlags: row.flags,
        text: [JSON.stringify(day.body), JSON.stringify(payroll.body), csv.body as string].join(
          '\n',
        ),
      };
    };
    const admin = (path: string) => http(t.baseUrl, 'GET', path, { key: t.keys.admin });

    // the thekedar of s1 only: the flag, its seq, no id of s2 anywhere
    const hidden = crewOf.get(onlyS1)!;
    const seen = await reads((path) => signedGet(onlyS1, path), s1, hidden);
    expect(seen).toMatchObject({
      flags: [{ type: 'overlaps_other_site', seq: seqs.get(hidden)!.s1 }],
      flagged: true,
      flaggedDays: 1,
      csvFlags: `overlaps_other_site@${seqs.get(hidden)!.s1}`,
    });
    expect(seen.flags[0]).not.toHaveProperty('detail');
    expect(seen.text).not.toContain(s2);
    // an admin reading the same day: s2 named
    expect(await reads(admin, s1, hidden)).toMatchObject({
      flags: [{ type: 'overlaps_other_site', seq: seqs.get(hidden)!.s1, detail: s2 }],
      csvFlags: `overlaps_other_site:${s2}@${seqs.get(hidden)!.s1}`,
    });

    // the thekedar of both sites: each side names the other
    const named = crewOf.get(both)!;
    for (const [site, other, seq] of [
      [s1, s2, seqs.get(named)!.s1],
      [s2, s1, seqs.get(named)!.s2],
    ] as const) {
      expect(await reads((path) => signedGet(both, path), site, named)).toMatchObject({
        flags: [{ type: 'overlaps_other_site', seq, detail: other }],
        csvFlags: `overlaps_other_site:${other}@${seq}`,
      });
    }
  });
});
