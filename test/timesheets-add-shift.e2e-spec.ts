import { parse } from 'csv-parse/sync';
import { ManualClock } from '@app/common';
import { TimesheetProjector } from '@app/timesheets';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { http, TestApp } from './support/test-app';
import {
  createSite,
  crewPhone,
  phoneAt,
  Punches,
  signedBy,
  startTimesheetApp,
  syncPunches,
  thekedarWithDevice,
  ThekedarDevice,
  workerDay,
  workerPayroll,
} from './support/timesheet-client';
import { Phone } from './support/worker-client';

/**
 * add_shift: a whole shift recorded for a worker with no punch to attach it to (a shift
 * punched on the wrong day and voided, lost punches, a paper register from before the phone),
 * bounded as a shift of the day model is, and shown as a correction in the day, the CSV and
 * the payroll.
 */
describe('timesheet corrections: add_shift (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-03-01T00:00:00.000Z');
  let siteId: string;
  let otherSite: string;
  let thekedar: ThekedarDevice;
  let crew: Phone;
  const phones: Phone[] = [];
  const newPhone = () => phones.shift()!;

  const correct = (body: Record<string, unknown>, key = t.keys.admin) =>
    http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      body: { reason: 'site register', ...body },
      key,
    });
  const addShift = (phone: Phone, at: string, until: string, extra = {}) =>
    correct({ action: 'add_shift', workerId: phone.workerId, at, until, ...extra });
  const dayOf = (phone: Phone, day: string) => workerDay(t, siteId, phone, day);
  const payrollOf = (phone: Phone, from: string, to: string) =>
    workerPayroll(t, siteId, phone, from, to);
  const punches = (phone: Phone, list: Punches) => syncPunches(t.baseUrl, phone, list);

  beforeAll(async () => {
    t = await startTimesheetApp(clock);
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    otherSite = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    for (let i = 0; i < 8; i++) phones.push(await phoneAt(t.baseUrl, t.keys.admin, siteId));
    thekedar = await thekedarWithDevice(t.baseUrl, t.keys.admin, [siteId]);
    crew = await crewPhone(t.baseUrl, thekedar, siteId, clock.now().toISOString());
    clock.set('2026-03-20T06:00:00.000Z');
  });
  afterAll(async () => t.close());

  it('should record the day a shift punched on the wrong day was worked (void the wrong pair, add the shift)', async () => {
    const phone = newPhone();
    // worked 09:00 → 17:00 IST on 2 March; the phone's clock said 3 March
    const [inSeq, outSeq] = await punches(phone, [
      ['check_in', '2026-03-03T03:30:00Z'],
      ['check_out', '2026-03-03T11:30:00Z'],
    ]);
    const far = await correct({
      action: 'move',
      target: { siteId, seq: inSeq },
      at: '2026-03-02T03:30:00.000Z',
    });
    expect([far.status, far.body.code]).toEqual([422, 'move_out_of_range']);
    // the pair stands on 3 March: the shift cannot be added over it
    const over = await addShift(phone, '2026-03-03T03:00:00.000Z', '2026-03-03T04:00:00.000Z');
    expect([over.status, over.body.code]).toEqual([422, 'shift_overlap']);
    expect(over.body.message).toContain(`seq ${inSeq}`);
    for (const seq of [inSeq, outSeq]) {
      expect((await correct({ action: 'void', target: { siteId, seq } })).status).toBe(201);
    }
    const added = await addShift(phone, '2026-03-02T03:30:00.000Z', '2026-03-02T11:30:00.000Z', {
      reason: 'Phone clock a day ahead; register says 2 March 09:00-17:00',
    });
    expect(added.status).toBe(201);
    const day = await dayOf(phone, '2026-03-02');
    expect(day).toMatchObject({
      firstIn: '2026-03-02T09:00:00+05:30',
      lastOut: '2026-03-02T17:00:00+05:30',
      hours: 8,
      workedSeconds: 8 * 3600,
      flags: [{ type: 'corrected', seq: added.body.seq }],
      flagged: false,
      corrected: true,
      seqs: [added.body.seq],
    });
    expect(day.shifts).toEqual([
      {
        in: {
          seq: added.body.seq,
          at: '2026-03-02T03:30:00.000Z',
          local: '2026-03-02T09:00:00+05:30',
        },
        out: {
          seq: added.body.seq,
          at: '2026-03-02T11:30:00.000Z',
          local: '2026-03-02T17:00:00+05:30',
        },
        seconds: 8 * 3600,
        added: true,
      },
    ]);
    expect((await dayOf(phone, '2026-03-03')).workedSeconds).toBe(0);
    expect(await payrollOf(phone, '2026-03-01', '2026-03-31')).toMatchObject({
      daysPresent: 1,
      workedSeconds: 8 * 3600,
      correctedDays: 2,
    });
    const csv = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/timesheets.csv?from=2026-03-02&to=2026-03-02&workerId=${phone.workerId}`,
      { key: t.keys.admin },
    );
    const [row] = parse<Record<string, string>>(csv.body as string, { columns: true });
    expect(row).toMatchObject({
      date: '2026-03-02',
      first_in: '2026-03-02T09:00:00+05:30',
      last_out: '2026-03-02T17:00:00+05:30',
      hours: '8.00',
      flags: `corrected@${added.body.seq}`,
      corrected: 'true',
      ledger_seqs: String(added.body.seq),
    });
    // the ledger holds it as a correction of no entry, with its author
    const res = await fetch(`${t.baseUrl}/api/v5/ledger/${siteId}/export`, {
      headers: { 'x-api-key': t.keys.auditor },
    });
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const stored = lines.find((l) => l.seq === added.body.seq).data;
    expect(stored).toEqual({
      kind: 'timesheet_correction',
      packetId: added.body.correctionId,
      siteId,
      workerId: phone.workerId,
      action: 'add_shift',
      at: '2026-03-02T03:30:00.000Z',
      until: '2026-03-02T11:30:00.000Z',
      reason: 'Phone clock a day ahead; register says 2 March 09:00-17:00',
      by: { kind: 'admin', actor: expect.stringMatching(/^admin:/) },
    });
  });

  it('should record paper-register history from before the phone, and a shift whose punches were lost', async () => {
    const phone = newPhone();
    // February: before the phone was enrolled (1 March), and far beyond the offline limit
    const paper = await addShift(phone, '2026-02-10T02:30:00.000Z', '2026-02-10T12:30:00.000Z');
    expect(paper.status).toBe(201);
    expect(await payrollOf(phone, '2026-02-01', '2026-02-28')).toMatchObject({
      daysPresent: 1,
      workedSeconds: 10 * 3600,
      flaggedDays: 0,
      correctedDays: 1,
    });
    // a night shift 21:00 → 05:00 IST: on the day it started
    const night = await addShift(phone, '2026-03-05T15:30:00.000Z', '2026-03-05T23:30:00.000Z');
    expect(night.status).toBe(201);
    expect(await dayOf(phone, '2026-03-05')).toMatchObject({
      hours: 8,
      lastOut: '2026-03-06T05:00:00+05:30',
    });
    expect(await dayOf(phone, '2026-03-06')).toBeUndefined();
  });

  it('should refuse a shift out of bounds: inverted, longer than a shift, in the future, fields missing or not its own', async () => {
    const phone = newPhone();
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ at: '2026-03-07T11:30:00Z', until: '2026-03-07T03:30:00Z' }, 422, 'shift_out_of_range'],
      [{ at: '2026-03-07T03:30:00Z', until: '2026-03-07T03:30:00Z' }, 422, 'shift_out_of_range'],
      // TIMESHEET_MAX_SHIFT_HOURS (16) and a minute
      [{ at: '2026-03-07T00:00:00Z', until: '2026-03-07T16:01:00Z' }, 422, 'shift_out_of_range'],
      // the clock is 2026-03-20T06:00Z, the skew 300 s
      [{ at: '2026-03-20T01:00:00Z', until: '2026-03-20T06:05:01Z' }, 422, 'time_in_future'],
      [{ until: '2026-03-07T11:30:00Z' }, 422, 'time_required'],
      [{ at: '2026-03-07T03:30:00Z' }, 400, 'validation_failed'],
      [
        { at: '2026-03-07T03:30:00Z', until: '2026-03-07T11:30:00.000000Z' },
        400,
        'validation_failed',
      ],
      [
        { at: '2026-03-07T03:30:00Z', until: '2026-03-07T11:30:00Z', target: { siteId, seq: 1 } },
        400,
        'validation_failed',
      ],
    ];
    for (const [fields, status, code] of cases) {
      const res = await correct({ action: 'add_shift', workerId: phone.workerId, ...fields });
      expect([fields, res.status, res.body.code]).toEqual([fields, status, code]);
    }
    const noWorker = await correct({
      action: 'add_shift',
      at: '2026-03-07T03:30:00Z',
      until: '2026-03-07T11:30:00Z',
    });
    expect([noWorker.status, noWorker.body.code]).toEqual([400, 'validation_failed']);
    // the other actions take neither workerId nor until
    const [lone] = await punches(phone, [['check_in', '2026-03-08T03:30:00Z']]);
    for (const extra of [{ workerId: phone.workerId }, { until: '2026-03-08T11:30:00Z' }]) {
      const res = await correct({
        action: 'add_check_out',
        target: { siteId, seq: lone },
        at: '2026-03-08T11:30:00Z',
        ...extra,
      });
      expect([extra, res.status, res.body.code]).toEqual([extra, 400, 'validation_failed']);
    }
    const missingTarget = await correct({ action: 'void' });
    expect([missingTarget.status, missingTarget.body.code]).toEqual([400, 'validation_failed']);
    // within the bounds: exactly the longest shift, ending within the skew
    const longest = await addShift(phone, '2026-03-07T00:00:00Z', '2026-03-07T16:00:00Z');
    expect(longest.status).toBe(201);
    const recent = await addShift(phone, '2026-03-20T00:00:00Z', '2026-03-20T06:04:00Z');
    expect(recent.status).toBe(201);
  });

  it("should record a shift for one of this site's workers only", async () => {
    const unknown = await correct({
      action: 'add_shift',
      workerId: '0123456789abcdef01234567',
      at: '2026-03-09T03:30:00Z',
      until: '2026-03-09T11:30:00Z',
    });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'worker_not_found']);
    const elsewhere = await phoneAt(t.baseUrl, t.keys.admin, otherSite);
    const notHere = await addShift(elsewhere, '2026-03-09T03:30:00Z', '2026-03-09T11:30:00Z');
    expect([notHere.status, notHere.body.code]).toEqual([422, 'worker_not_at_site']);
  });

  it("should judge the worker's site and status when the shift began, not now", async () => {
    const moved = newPhone();
    const left = newPhone();
    const back = clock.now().toISOString();
    try {
      const patch = await http(t.baseUrl, 'PATCH', `/api/v5/workers/${moved.workerId}`, {
        key: t.keys.admin,
        body: { siteIds: [otherSite] },
      });
      expect(patch.status).toBe(200);
      const off = await http(t.baseUrl, 'POST', `/api/v5/workers/${left.workerId}/deactivate`, {
        key: t.keys.admin,
        body: { reason: 'left the contractor' },
      });
      expect(off.status).toBe(200);
      clock.advance(4 * 3_600_000); // the changes were made at 06:00; now 10:00
      // before the move / the departure: theirs (a lost or paper-register shift)
      for (const phone of [moved, left]) {
        const before = await addShift(phone, '2026-03-11T03:30:00Z', '2026-03-11T11:30:00Z');
        expect(before.status).toBe(201);
      }
      // after it: not at this site any more, or not working
      for (const phone of [moved, left]) {
        const after = await addShift(phone, '2026-03-20T07:00:00Z', '2026-03-20T09:00:00Z');
        expect([after.status, after.body.code]).toEqual([422, 'worker_not_at_site']);
      }
    } finally {
      clock.set(back);
    }
  });

  it('should keep added shifts apart from every other shift and punch of the worker', async () => {
    const phone = newPhone();
    const [inSeq, outSeq] = await punches(phone, [
      ['check_in', '2026-03-10T03:30:00Z'],
      ['check_out', '2026-03-10T07:30:00Z'],
    ]);
    const first = await addShift(phone, '2026-03-10T08:30:00Z', '2026-03-10T12:30:00Z');
    expect(first.status).toBe(201);
    // touching is not overlapping: a shift may start as another ends
    const touching = await addShift(phone, '2026-03-10T07:30:00Z', '2026-03-10T08:30:00Z');
    expect(touching.status).toBe(201);
    for (const [at, until] of [
      ['2026-03-10T12:00:00Z', '2026-03-10T13:00:00Z'], // over the added one
      ['2026-03-10T02:30:00Z', '2026-03-10T04:00:00Z'], // over the punched pair
      ['2026-03-10T02:00:00Z', '2026-03-10T14:00:00Z'], // around all of them
    ]) {
      const res = await addShift(phone, at, until);
      expect([at, res.status, res.body.code]).toEqual([at, 422, 'shift_overlap']);
    }
    // nor may another correction bring a punch into an added shift
    const intoIt = await correct({
      action: 'move',
      target: { siteId, seq: outSeq },
      at: '2026-03-10T09:00:00Z',
    });
    expect([intoIt.status, intoIt.body.code]).toEqual([422, 'shift_overlap']);
    const [open] = await punches(phone, [['check_in', '2026-03-10T13:00:00Z']]);
    const across = await correct({
      action: 'add_check_out',
      target: { siteId, seq: open },
      at: '2026-03-10T14:00:00Z',
    });
    expect(across.status).toBe(201);
    // an added shift is not moved (voided and added again), and a void takes it out
    const moved = await correct({
      action: 'move',
      target: { siteId, seq: first.body.seq },
      at: '2026-03-10T09:00:00Z',
    });
    expect([moved.status, moved.body.code]).toEqual([422, 'not_a_punch']);
    expect((await dayOf(phone, '2026-03-10')).workedSeconds).toBe((4 + 4 + 1 + 1) * 3600);
    const undo = await correct({ action: 'void', target: { siteId, seq: first.body.seq } });
    expect(undo.status).toBe(201);
    const day = await dayOf(phone, '2026-03-10');
    expect(day.workedSeconds).toBe((4 + 1 + 1) * 3600);
    expect(day.shifts.map((s: { in: { seq: number } }) => s.in.seq)).toEqual([
      inSeq,
      touching.body.seq,
      open,
    ]);
    // a punch synced later that falls in an added shift flags its day
    const [late] = await punches(phone, [['check_in', '2026-03-10T08:00:00Z']]);
    const flagged = await dayOf(phone, '2026-03-10');
    expect(flagged.flags).toContainEqual({ type: 'overlapping_shift', seq: touching.body.seq });
    expect(flagged.flagged).toBe(true);
    expect(flagged.seqs).toContain(late);
  });

  it('should answer a retried add_shift as a duplicate, and its id reused for another shift 409', async () => {
    const phone = newPhone();
    const body = {
      action: 'add_shift',
      workerId: phone.workerId,
      at: '2026-03-11T03:30:00Z',
      until: '2026-03-11T11:30:00Z',
      correctionId: '0f5e7a9c-3b1d-4e2f-8a6c-5d4b3a2c1e0f',
    };
    const first = await correct(body);
    expect(first.status).toBe(201);
    const again = await correct(body);
    expect([again.status, again.body]).toEqual([200, { ...first.body, status: 'duplicate' }]);
    const other = await correct({ ...body, until: '2026-03-11T12:30:00Z' });
    expect([other.status, other.body.code]).toEqual([409, 'correction_id_conflict']);
    expect((await dayOf(phone, '2026-03-11')).workedSeconds).toBe(8 * 3600);
  });

  it('should let a thekedar record a shift of its crew, signed, and no other worker; an auditor none', async () => {
    const body = {
      action: 'add_shift',
      workerId: crew.workerId,
      at: '2026-03-12T03:30:00.000Z',
      until: '2026-03-12T11:30:00.000Z',
      reason: 'Phone broke; register 09:00-17:00',
    };
    const signed = (value: unknown) => signedBy(thekedar, value, clock.now().toISOString());
    const own = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      body,
      headers: signed(body),
    });
    expect(own.status).toBe(201);
    expect(await dayOf(crew, '2026-03-12')).toMatchObject({ hours: 8, corrected: true });
    const stranger = { ...body, workerId: newPhone().workerId };
    const refused = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      body: stranger,
      headers: signed(stranger),
    });
    expect([refused.status, refused.body.code]).toEqual([403, 'worker_not_in_crew']);
    const auditor = await correct(
      { ...body, at: '2026-03-13T03:30:00.000Z', until: '2026-03-13T11:30:00.000Z' },
      t.keys.auditor,
    );
    expect(auditor.status).toBe(403);
    const res = await fetch(`${t.baseUrl}/api/v5/ledger/${siteId}/export`, {
      headers: { 'x-api-key': t.keys.auditor },
    });
    const line = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((l) => l.seq === own.body.seq);
    expect(line.data.by).toEqual({
      kind: 'thekedar',
      thekedarId: thekedar.thekedarId,
      deviceId: thekedar.deviceId,
      requestTimestamp: clock.now().toISOString(),
      signature: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('should give the same entries and days after a rebuild from the ledger', async () => {
    const projector = t.app.get(TimesheetProjector);
    const repo = t.app.get(TimesheetRepository, { strict: false });
    const snapshot = async () => ({
      entries: await repo.listEntries(siteId, 0, 1_000_000),
      days: await repo
        .listDays({ siteId, fromDay: '2026-02-01', toDay: '2026-04-30', limit: 1_000_000 })
        .then((p) => p.days),
    });
    await projector.ensureReadable(siteId);
    const incremental = await snapshot();
    expect(incremental.entries.filter((e) => e.action === 'add_shift').length).toBeGreaterThan(5);
    await projector.rebuildSite(siteId);
    expect(await snapshot()).toEqual(incremental);
  });
});
