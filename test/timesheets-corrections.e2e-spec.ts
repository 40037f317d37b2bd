import { parse } from 'csv-parse/sync';
import { ManualClock } from '@app/common';
import { TimesheetProjector } from '@app/timesheets';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { http, TestApp } from './support/test-app';
import {
  createSite,
  flagTypes as types,
  phoneAt,
  Punches,
  startTimesheetApp,
  syncPunches,
  workerDay,
  workerPayroll,
} from './support/timesheet-client';
import { Phone } from './support/worker-client';

/**
 * The rules a correction is held to (a site operator's review): bounded moves, retries answered
 * as duplicates whatever the action, one check-out per check-in, a check-in added to a stray
 * check-out, one `corrected` flag a day, and what the payroll counts.
 */
describe('timesheet corrections: bounds, retries and added check-ins (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-03-01T00:00:00.000Z');
  let siteId: string;
  const period = 'from=2026-03-01&to=2026-03-31';

  const correct = (body: Record<string, unknown>) =>
    http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
      body: { reason: 'site register', ...body },
      key: t.keys.admin,
    });
  const target = (seq: number) => ({ siteId, seq });
  const dayOf = (phone: Phone, day: string) => workerDay(t, siteId, phone, day);
  const payrollOf = (phone: Phone) => workerPayroll(t, siteId, phone, '2026-03-01', '2026-03-31');
  /** Syncs the punches; returns their ledger seqs. */
  const punches = (phone: Phone, list: Punches) => syncPunches(t.baseUrl, phone, list);
  /** Phones registered on 1 March (an offline token's window starts at registration). */
  const phones: Phone[] = [];
  const newPhone = () => phones.shift()!;

  beforeAll(async () => {
    t = await startTimesheetApp(clock);
    siteId = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    for (let i = 0; i < 14; i++) phones.push(await phoneAt(t.baseUrl, t.keys.admin, siteId));
    clock.set('2026-03-20T06:00:00.000Z');
  });
  afterAll(async () => t.close());

  describe('move', () => {
    let phone: Phone;
    let inSeq: number;

    beforeAll(async () => {
      phone = newPhone();
      // 09:00 → 17:00 IST on 2 March
      [inSeq] = await punches(phone, [
        ['check_in', '2026-03-02T03:30:00Z'],
        ['check_out', '2026-03-02T11:30:00Z'],
      ]);
    });

    it('should refuse a move further than TIMESHEET_MAX_SHIFT_HOURS from the punch, and keep the month whole', async () => {
      const decades = await correct({
        action: 'move',
        target: target(inSeq),
        at: '1990-01-01T00:00:00.000Z',
      });
      expect(decades.status).toBe(422);
      expect(decades.body.code).toBe('move_out_of_range');
      // a minute more than 16 h (the default longest shift) before the punch, or after it
      const early = await correct({
        action: 'move',
        target: target(inSeq),
        at: '2026-03-01T11:29:00.000Z',
      });
      expect(early.body.code).toBe('move_out_of_range');
      const late = await correct({
        action: 'move',
        target: target(inSeq),
        at: '2026-03-02T19:31:00.000Z',
      });
      expect(late.body.code).toBe('move_out_of_range');
      expect(await payrollOf(phone)).toMatchObject({ daysPresent: 1, workedSeconds: 8 * 3600 });
      const earlier = await correct({
        action: 'move',
        target: target(inSeq),
        at: '2026-03-02T02:30:00.000Z',
      });
      expect(earlier.status).toBe(201);
      expect(await payrollOf(phone)).toMatchObject({ daysPresent: 1, workedSeconds: 9 * 3600 });
    });

    it('should bound a move by the recorded time, not the moved one (moves do not walk)', async () => {
      // the punch is at 02:30 now: 11:00 on 1 March is within 16 h of it, not of the recorded 03:30
      const walk = await correct({
        action: 'move',
        target: target(inSeq),
        at: '2026-03-01T11:00:00.000Z',
      });
      expect(walk.status).toBe(422);
      expect(walk.body.code).toBe('move_out_of_range');
    });

    it('should refuse a move that breaks a shift (a check-out before its check-in, a check-in after its check-out), and allow one that pairs a punch recorded at a wrong time', async () => {
      const p = newPhone();
      const [inS, outS] = await punches(p, [
        ['check_in', '2026-03-07T03:30:00Z'],
        ['check_out', '2026-03-07T11:30:00Z'],
      ]);
      const outFirst = await correct({
        action: 'move',
        target: target(outS),
        at: '2026-03-07T03:00:00.000Z',
      });
      expect(outFirst.status).toBe(422);
      expect(outFirst.body.code).toBe('move_breaks_shift');
      const inLast = await correct({
        action: 'move',
        target: target(inS),
        at: '2026-03-07T12:00:00.000Z',
      });
      expect(inLast.status).toBe(422);
      expect(inLast.body.code).toBe('move_breaks_shift');
      expect(await payrollOf(p)).toMatchObject({ daysPresent: 1, workedSeconds: 8 * 3600 });
      // within its shift, a move keeps the pair
      const later = await correct({
        action: 'move',
        target: target(outS),
        at: '2026-03-07T12:30:00.000Z',
      });
      expect(later.status).toBe(201);
      expect(await payrollOf(p)).toMatchObject({ daysPresent: 1, workedSeconds: 9 * 3600 });

      // a check-out recorded before its check-in (the phone's clock was off), moved after it
      const q = newPhone();
      const [, outQ] = await punches(q, [
        ['check_in', '2026-03-08T03:30:00Z'],
        ['check_out', '2026-03-08T03:20:00Z'],
      ]);
      expect(await payrollOf(q)).toMatchObject({ workedSeconds: 0 });
      const fix = await correct({
        action: 'move',
        target: target(outQ),
        at: '2026-03-08T11:30:00.000Z',
      });
      expect(fix.status).toBe(201);
      expect(await payrollOf(q)).toMatchObject({ daysPresent: 1, workedSeconds: 8 * 3600 });
    });

    it('should name the longest shift when a move would make a shift longer than it (the punches would no longer pair), for a punch and for an added check-in', async () => {
      const p = newPhone();
      // 09:00 → 09:04 IST on 10 March; the worker had in fact come at dawn
      const [inS, outS] = await punches(p, [
        ['check_in', '2026-03-10T03:30:00Z'],
        ['check_out', '2026-03-10T03:34:00Z'],
      ]);
      const dawn = await correct({
        action: 'move',
        target: target(inS),
        at: '2026-03-09T11:32:00.000Z', // 15 h 58 min earlier: the shift would be 16 h 02 min
      });
      expect(dawn.status).toBe(422);
      expect(dawn.body.code).toBe('move_breaks_shift');
      expect(dawn.body.message).toBe(
        `the shift from seq ${inS} to seq ${outS} would last 16 h 02 min, more than TIMESHEET_MAX_SHIFT_HOURS (16 h), so its punches would no longer pair: keep the shift within 16 h, and record the time beyond it as another shift (add_shift)`,
      );
      // exactly the longest shift pairs
      const longest = await correct({
        action: 'move',
        target: target(inS),
        at: '2026-03-09T11:34:00.000Z',
      });
      expect(longest.status).toBe(201);
      expect(await payrollOf(p)).toMatchObject({ workedSeconds: 16 * 3600 });

      // a check-in added to a stray check-out, then moved 30 s too far
      const [stray] = await punches(p, [['check_out', '2026-03-12T11:30:00Z']]);
      const added = await correct({
        action: 'add_check_in',
        target: target(stray),
        at: '2026-03-12T03:30:00.000Z',
      });
      expect(added.status).toBe(201);
      const tooEarly = await correct({
        action: 'move',
        target: target(added.body.seq),
        at: '2026-03-11T19:29:30.000Z',
      });
      expect(tooEarly.status).toBe(422);
      expect(tooEarly.body.code).toBe('move_breaks_shift');
      expect(tooEarly.body.message).toContain(
        `the shift from seq ${added.body.seq} to seq ${stray} would last 16 h 00 min 30 s, more than TIMESHEET_MAX_SHIFT_HOURS (16 h)`,
      );
    });

    it('should allow a move that re-pairs as many shifts (a check-in moved before an open one), and refuse one that leaves a punch it did not move without its partner', async () => {
      const p = newPhone();
      // 09:00 open, 10:00 → 17:00 (IST), 20:00 open: one shift of 7 hours
      const [open, inS, outS, late] = await punches(p, [
        ['check_in', '2026-03-16T03:30:00Z'],
        ['check_in', '2026-03-16T04:30:00Z'],
        ['check_out', '2026-03-16T11:30:00Z'],
        ['check_in', '2026-03-16T14:30:00Z'],
      ]);
      expect(await payrollOf(p)).toMatchObject({ workedSeconds: 7 * 3600 });
      // the check-out past the 20:00 check-in: its own check-in (10:00) would be left open
      const past = await correct({
        action: 'move',
        target: target(outS),
        at: '2026-03-16T15:30:00.000Z',
      });
      expect(past.status).toBe(422);
      expect(past.body.code).toBe('move_breaks_shift');
      expect(past.body.message).toContain(`seq ${inS})`);
      // the 10:00 check-in to 08:30: it is open now, its check-out closes the 09:00 one
      const earlier = await correct({
        action: 'move',
        target: target(inS),
        at: '2026-03-16T03:00:00.000Z',
      });
      expect(earlier.status).toBe(201);
      const day = await dayOf(p, '2026-03-16');
      expect(
        day.shifts.map((s: { in: { seq: number }; out?: { seq: number } }) => [
          s.in.seq,
          s.out?.seq ?? null,
        ]),
      ).toEqual([
        [inS, null],
        [open, outS],
        [late, null],
      ]);
      expect(await payrollOf(p)).toMatchObject({ workedSeconds: 8 * 3600 });
    });

    it('should refuse a move into the future beyond SYNC_MAX_CLOCK_SKEW_SECONDS, and allow one within it', async () => {
      const [recent] = await punches(phone, [['check_in', '2026-03-20T05:00:00Z']]);
      const ahead = await correct({
        action: 'move',
        target: target(recent),
        at: '2026-03-20T06:05:01.000Z',
      });
      expect(ahead.status).toBe(422);
      expect(ahead.body.code).toBe('time_in_future');
      const skewed = await correct({
        action: 'move',
        target: target(recent),
        at: '2026-03-20T06:04:00.000Z',
      });
      expect(skewed.status).toBe(201);
    });
  });

  describe('retries', () => {
    it('should answer the same correction sent again as a duplicate for every action, and a reused id with other content 409', async () => {
      const phone = newPhone();
      const [inA, inB, outC, inD] = await punches(phone, [
        ['check_in', '2026-03-03T03:30:00Z'], // no check-out: add_check_out
        ['check_in', '2026-03-04T03:30:00Z'], // moved
        ['check_out', '2026-03-05T11:30:00Z'], // no check-in: add_check_in
        ['check_in', '2026-03-06T03:30:00Z'], // voided
      ]);
      const bodies = [
        { action: 'void', target: target(inD) },
        { action: 'add_check_out', target: target(inA), at: '2026-03-03T11:30:00.000Z' },
        { action: 'move', target: target(inB), at: '2026-03-04T04:00:00.000Z' },
        { action: 'add_check_in', target: target(outC), at: '2026-03-05T03:30:00.000Z' },
      ].map((b, i) => ({ ...b, correctionId: `4b1d7f5e-8c1a-4c55-9d1e-2f7a0c3b9e2${i}` }));
      for (const body of bodies) {
        const first = await correct(body);
        expect([body.action, first.status]).toEqual([body.action, 201]);
        const logged = appendedLines();
        const retry = await correct(body);
        expect([body.action, retry.status, retry.body]).toEqual([
          body.action,
          200,
          { ...first.body, status: 'duplicate' },
        ]);
        // a retry is logged as one, not as a second append
        expect(appendedLines()).toBe(logged);
        expect(t.logs()).toContain(`"correctionId":"${body.correctionId}"`);
        const other = await correct({ ...body, reason: 'another page of the register' });
        expect([body.action, other.status, other.body.code]).toEqual([
          body.action,
          409,
          'correction_id_conflict',
        ]);
      }
      expect(
        t
          .logs()
          .split('\n')
          .filter((l) => l.includes('Timesheet correction duplicate')).length,
      ).toBeGreaterThanOrEqual(4);
      // a new correction (its own id) of an already voided punch is still refused
      const again = await correct({ action: 'void', target: target(inD) });
      expect([again.status, again.body.code]).toEqual([409, 'already_voided']);
    });

    const appendedLines = () =>
      t
        .logs()
        .split('\n')
        .filter((l) => l.includes('Timesheet correction appended')).length;
  });

  describe('add_check_out', () => {
    it('should refuse a second check-out of a check-in that has one (a punch, or an added one)', async () => {
      const phone = newPhone();
      const [closed, , open] = await punches(phone, [
        ['check_in', '2026-03-07T03:30:00Z'],
        ['check_out', '2026-03-07T11:30:00Z'],
        ['check_in', '2026-03-08T03:30:00Z'],
      ]);
      const onPunched = await correct({
        action: 'add_check_out',
        target: target(closed),
        at: '2026-03-07T12:30:00.000Z',
      });
      expect([onPunched.status, onPunched.body.code]).toEqual([409, 'already_checked_out']);
      const added = await correct({
        action: 'add_check_out',
        target: target(open),
        at: '2026-03-08T11:30:00.000Z',
      });
      expect(added.status).toBe(201);
      const second = await correct({
        action: 'add_check_out',
        target: target(open),
        at: '2026-03-08T12:30:00.000Z',
      });
      expect([second.status, second.body.code]).toEqual([409, 'already_checked_out']);
      for (const day of ['2026-03-07', '2026-03-08']) {
        expect(types(await dayOf(phone, day))).not.toContain('check_out_without_check_in');
      }
      // once the added check-out is voided, the check-in takes another
      expect((await correct({ action: 'void', target: target(added.body.seq) })).status).toBe(201);
      const far = await correct({
        action: 'add_check_out',
        target: target(open),
        at: '2026-03-08T19:31:00.000Z',
      });
      expect([far.status, far.body.code]).toEqual([422, 'check_out_out_of_range']);
      const redo = await correct({
        action: 'add_check_out',
        target: target(open),
        at: '2026-03-08T12:30:00.000Z',
      });
      expect(redo.status).toBe(201);
      // the undone check-out is named a voided correction, and the day, fixed, is not flagged
      expect(await dayOf(phone, '2026-03-08')).toMatchObject({
        hours: 9,
        flags: expect.arrayContaining([{ type: 'voided_correction', seq: added.body.seq }]),
        flagged: false,
      });
      expect(types(await dayOf(phone, '2026-03-08'))).not.toContain('voided_punch');
    });

    it('should take one of several check-outs sent at once for one check-in, and refuse the others', async () => {
      const phone = newPhone();
      const [open] = await punches(phone, [['check_in', '2026-03-10T03:30:00Z']]);
      const answers = await Promise.all(
        [11, 12, 13, 14, 15, 16].map((hour) =>
          correct({
            action: 'add_check_out',
            target: target(open),
            at: `2026-03-10T${hour}:30:00.000Z`,
          }),
        ),
      );
      expect(answers.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
      const refused = answers.filter((r) => r.status === 409).map((r) => r.body.code);
      expect(new Set(refused)).toEqual(new Set(['already_checked_out']));
      expect(types(await dayOf(phone, '2026-03-10'))).not.toContain('check_out_without_check_in');
    });

    it('should refuse an added check-out that the next punch would come before (it could not close the check-in)', async () => {
      const phone = newPhone();
      const [morning] = await punches(phone, [
        ['check_in', '2026-03-09T03:30:00Z'],
        ['check_in', '2026-03-09T08:30:00Z'],
      ]);
      const past = await correct({
        action: 'add_check_out',
        target: target(morning),
        at: '2026-03-09T11:30:00.000Z',
      });
      expect([past.status, past.body.code]).toEqual([422, 'check_out_out_of_range']);
      const before = await correct({
        action: 'add_check_out',
        target: target(morning),
        at: '2026-03-09T07:30:00.000Z',
      });
      expect(before.status).toBe(201);
      expect((await dayOf(phone, '2026-03-09')).workedSeconds).toBe(4 * 3600);
    });
  });

  describe('add_check_in', () => {
    let phone: Phone;
    let outSeq: number;
    let pairedOut: number;
    let inSeq: number;

    beforeAll(async () => {
      phone = newPhone();
      // forgot to check in on 11 March (a night shift: 21:00 → 05:00 IST), and a full day on 12 March
      [outSeq, inSeq, pairedOut] = await punches(phone, [
        ['check_out', '2026-03-11T23:30:00Z'],
        ['check_in', '2026-03-12T03:30:00Z'],
        ['check_out', '2026-03-12T11:30:00Z'],
      ]);
    });

    it('should pair a check-in added before a stray check-out, on the day the shift started', async () => {
      const stray = await dayOf(phone, '2026-03-12');
      expect(stray.flags).toContainEqual({ type: 'check_out_without_check_in', seq: outSeq });
      const added = await correct({
        action: 'add_check_in',
        target: target(outSeq),
        at: '2026-03-11T15:30:00.000Z',
      });
      expect(added.status).toBe(201);
      const night = await dayOf(phone, '2026-03-11');
      expect(night).toMatchObject({
        firstIn: '2026-03-11T21:00:00+05:30',
        lastOut: '2026-03-12T05:00:00+05:30',
        hours: 8,
        flags: [{ type: 'corrected', seq: added.body.seq }],
        flagged: false,
        corrected: true,
        seqs: [outSeq, added.body.seq],
      });
      expect(night.shifts).toEqual([
        {
          in: expect.objectContaining({ seq: added.body.seq, at: '2026-03-11T15:30:00.000Z' }),
          out: expect.objectContaining({ seq: outSeq }),
          seconds: 8 * 3600,
        },
      ]);
      expect(await dayOf(phone, '2026-03-12')).toMatchObject({ hours: 8, flags: [] });
      expect(await payrollOf(phone)).toMatchObject({
        daysPresent: 2,
        workedSeconds: 16 * 3600,
        flaggedDays: 0,
      });
    });

    it('should refuse a check-in added to a check-out that has one, to a check-in, or out of range', async () => {
      const twice = await correct({
        action: 'add_check_in',
        target: target(outSeq),
        at: '2026-03-11T16:30:00.000Z',
      });
      expect([twice.status, twice.body.code]).toEqual([409, 'already_checked_in']);
      const punched = await correct({
        action: 'add_check_in',
        target: target(pairedOut),
        at: '2026-03-12T04:30:00.000Z',
      });
      expect([punched.status, punched.body.code]).toEqual([409, 'already_checked_in']);
      const onIn = await correct({
        action: 'add_check_in',
        target: target(inSeq),
        at: '2026-03-12T02:30:00.000Z',
      });
      expect([onIn.status, onIn.body.code]).toEqual([422, 'not_a_check_out']);
      const noAt = await correct({ action: 'add_check_in', target: target(outSeq) });
      expect(noAt.body.code).toBe('time_required');
      // a stray check-out of its own to try the range on
      const other = newPhone();
      const [lone] = await punches(other, [['check_out', '2026-03-13T11:30:00Z']]);
      for (const at of [
        '2026-03-13T11:30:00.000Z',
        '2026-03-13T12:00:00.000Z',
        '2026-03-12T19:29:00.000Z',
      ]) {
        const res = await correct({ action: 'add_check_in', target: target(lone), at });
        expect([at, res.status, res.body.code]).toEqual([at, 422, 'check_in_out_of_range']);
      }
      expect(
        (
          await correct({
            action: 'add_check_in',
            target: target(lone),
            at: '2026-03-12T19:30:00.000Z',
          })
        ).status,
      ).toBe(201);
    });

    it('should move and void an added check-in like an added check-out, and a rebuild gives the same days', async () => {
      const [added] = (await dayOf(phone, '2026-03-11')).shifts.map((s: any) => s.in.seq);
      const move = await correct({
        action: 'move',
        target: target(added),
        at: '2026-03-11T14:30:00.000Z',
      });
      expect(move.status).toBe(201);
      expect((await dayOf(phone, '2026-03-11')).hours).toBe(9);
      expect((await correct({ action: 'void', target: target(added) })).status).toBe(201);
      const day = await dayOf(phone, '2026-03-12');
      expect(day.flags).toContainEqual({ type: 'check_out_without_check_in', seq: outSeq });
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
      await projector.rebuildSite(siteId);
      expect(await snapshot()).toEqual(incremental);
    });
  });

  describe('flags and payroll', () => {
    it('should flag a day corrected once, by its newest correction, however many it has (JSON and CSV)', async () => {
      const phone = newPhone();
      const [inSeq, outSeq] = await punches(phone, [
        ['check_in', '2026-03-14T03:30:00Z'],
        ['check_out', '2026-03-14T11:30:00Z'],
      ]);
      const seqs: number[] = [];
      for (const body of [
        { action: 'move', target: target(inSeq), at: '2026-03-14T03:00:00.000Z' },
        { action: 'move', target: target(outSeq), at: '2026-03-14T12:00:00.000Z' },
        { action: 'move', target: target(inSeq), at: '2026-03-14T02:30:00.000Z' },
      ]) {
        const res = await correct(body);
        expect(res.status).toBe(201);
        seqs.push(res.body.seq);
      }
      const undo = await correct({ action: 'void', target: target(seqs[2]) });
      seqs.push(undo.body.seq);
      const day = await dayOf(phone, '2026-03-14');
      expect(day).toMatchObject({
        hours: 9,
        corrected: true,
        flags: [{ type: 'corrected', seq: undo.body.seq }],
        seqs: [inSeq, outSeq, ...seqs],
      });
      const csv = await http(
        t.baseUrl,
        'GET',
        `/api/v5/sites/${siteId}/timesheets.csv?from=2026-03-14&to=2026-03-14&workerId=${phone.workerId}`,
        { key: t.keys.admin },
      );
      const [row] = parse<Record<string, string>>(csv.body as string, { columns: true });
      expect(row).toMatchObject({ flags: `corrected@${undo.body.seq}`, corrected: 'true' });
    });

    it('should count a day with a check-in present (an open shift, 0 hours), not one of a stray check-out only', async () => {
      const phone = newPhone();
      await punches(phone, [
        ['check_in', '2026-03-15T03:30:00Z'], // open
        ['check_out', '2026-03-17T11:30:00Z'], // stray
        ['check_in', '2026-03-18T03:30:00Z'],
        ['check_out', '2026-03-18T03:30:20Z'], // 20 s
      ]);
      expect(await payrollOf(phone)).toEqual({
        workerId: phone.workerId,
        name: 'Sita Devi',
        phone: expect.stringMatching(/^\+91\d{10}$/),
        daysPresent: 2,
        hours: 0.01,
        workedSeconds: 20,
        flaggedDays: 2,
        correctedDays: 0,
        refusedPunches: 0,
      });
    });

    it('should give payroll hours from the seconds of the period, rounded once (rows are rounded each)', async () => {
      const phone = newPhone();
      // three days of 8 h 0 min 20 s: each row says 8.01, the period 24.02 (24 h 1 min)
      for (const day of ['2026-03-15', '2026-03-16', '2026-03-17']) {
        await punches(phone, [
          ['check_in', `${day}T03:30:00Z`],
          ['check_out', `${day}T11:30:20Z`],
        ]);
      }
      const csv = await http(
        t.baseUrl,
        'GET',
        `/api/v5/sites/${siteId}/timesheets.csv?${period}&workerId=${phone.workerId}`,
        { key: t.keys.admin },
      );
      const rows = parse<Record<string, string>>(csv.body as string, { columns: true });
      expect(rows.map((r) => r.hours)).toEqual(['8.01', '8.01', '8.01']);
      expect(await payrollOf(phone)).toMatchObject({
        hours: 24.02,
        workedSeconds: 3 * (8 * 3600 + 20),
      });
    });
  });
});
