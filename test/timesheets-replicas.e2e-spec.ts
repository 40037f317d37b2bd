import { ManualClock } from '@app/common';
import { TimesheetDay, TimesheetProjector } from '@app/timesheets';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { describeReplicas, http, TestApp } from './support/test-app';
import { allTimesheetDays, createSite, phoneAt, punch, sync } from './support/timesheet-client';
import { timesheetPunch } from '@app/timesheets/testing/timesheet-punch';

const ROUNDS = 10;
const PHONES = 3;
/** Punches moved by two corrections at once, one through each replica. */
const CORRECTION_ROUNDS = 8;
/** The rounds' days (the phones enrol on the first; the shared clock is set after each's shift). */
const DAYS = Array.from({ length: ROUNDS }, (_, i) => `2026-03-${String(2 + i).padStart(2, '0')}`);
const PERIOD = `from=${DAYS[0]}&to=${DAYS[ROUNDS - 1]}`;

/** A day of `seconds` worked (what a recompute found). */
function dayOf(siteId: string, workerId: string, day: string, seconds: number): TimesheetDay {
  return {
    siteId,
    workerId,
    day,
    shifts: [{ inSeq: 1, in: 0, outSeq: 2, out: seconds * 1000, seconds }],
    workedSeconds: seconds,
    flags: [],
    corrected: false,
    seqs: [1, 2],
    packets: [],
  };
}

interface DayView {
  workerId: string;
  date: string;
  hours: number;
  seqs: number[];
  flags: unknown[];
}

async function allDays(t: TestApp, siteId: string): Promise<DayView[]> {
  const days = await allTimesheetDays(t.baseUrl, t.keys.auditor, siteId, PERIOD);
  return days.map(({ workerId, date, hours, seqs, flags }) => ({
    workerId,
    date,
    hours,
    seqs,
    flags,
  }));
}

/**
 * The production topology's two replicas share one MongoDB database, and each projects the
 * ledger into the timesheet read model on its own: the replica that took a sync (its hook)
 * and the replica that serves a read (its catch-up) recompute the same worker's days at the
 * same moment. Neither may fail the other's request (the days' unique key, a lost upsert
 * race), and the days left must be the ones a rebuild from the ledger gives, never an older
 * recompute's landing last. SQLite is one process: skipped there.
 */
const clock = new ManualClock(`${DAYS[0]}T00:00:00.000Z`);
describeReplicas(
  'timesheets on two replicas sharing MongoDB (e2e)',
  (replicas) => {
    let a: TestApp;
    let b: TestApp;
    beforeAll(() => ({ a, b } = replicas()));

    it('should answer every read while both replicas project one crew, and leave the days a rebuild gives', async () => {
      const { siteId } = await createSite(a.baseUrl, a.keys.admin, 'Asia/Kolkata');
      const phones = [];
      for (let i = 0; i < PHONES; i++) phones.push(await phoneAt(a.baseUrl, a.keys.admin, siteId));
      const read = (t: TestApp) =>
        http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/timesheets?${PERIOD}`, {
          key: t.keys.auditor,
        });
      for (let round = 0; round < ROUNDS; round++) {
        const day = DAYS[round];
        clock.set(`${day}T13:00:00.000Z`);
        // the syncs go to one replica, and both read the site while its hook projects them
        const [writer, other] = round % 2 === 0 ? [a, b] : [b, a];
        const [synced, ...reads] = await Promise.all([
          Promise.all(
            phones.map((phone, i) =>
              sync(writer.baseUrl, phone, [
                punch(phone, 'check_in', `${day}T03:30:00.000Z`),
                punch(phone, 'check_out', `${day}T${String(9 + i).padStart(2, '0')}:30:00.000Z`),
              ]),
            ),
          ),
          read(other),
          read(writer),
          read(other),
        ]);
        for (const s of synced) expect(s.accepted).toBe(2);
        for (const r of reads)
          expect({ round, status: r.status, code: r.body?.code }).toEqual({
            round,
            status: 200,
            code: undefined,
          });
      }
      const fromA = await allDays(a, siteId);
      const fromB = await allDays(b, siteId);
      expect(fromA).toHaveLength(ROUNDS * PHONES);
      expect(fromB).toEqual(fromA);
      // each worker's day: a 6, 7 or 8-hour shift, its two punches
      for (const d of fromA) {
        expect(d.seqs).toHaveLength(2);
        expect([6, 7, 8]).toContain(d.hours);
      }
      await a.app.get(TimesheetProjector).rebuildSite(siteId);
      expect(await allDays(b, siteId)).toEqual(fromA);
    });

    it('should take two corrections of one punch sent to both replicas at once, and leave the newest', async () => {
      const day = '2026-03-20';
      // the phones enrol before their shifts (a token covers punches after its issue)
      clock.set(`${day}T00:00:00.000Z`);
      const { siteId } = await createSite(a.baseUrl, a.keys.admin, 'Asia/Kolkata');
      const phones = [];
      for (let i = 0; i < CORRECTION_ROUNDS; i++) {
        phones.push(await phoneAt(a.baseUrl, a.keys.admin, siteId));
      }
      clock.set(`${day}T13:00:00.000Z`);
      const correct = (t: TestApp, seq: number, at: string) =>
        http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
          key: t.keys.admin,
          body: { action: 'move', target: { siteId, seq }, at, reason: 'site register' },
        });
      const expected = new Map<string, string>();
      for (const phone of phones) {
        const synced = await sync(a.baseUrl, phone, [
          punch(phone, 'check_in', `${day}T03:30:00.000Z`),
          punch(phone, 'check_out', `${day}T11:30:00.000Z`),
        ]);
        const inSeq = synced.results[0].seq!;
        // an admin on each replica moves the same check-in, each to its own time
        const moves = await Promise.all([
          correct(a, inSeq, `${day}T04:00:00.000Z`),
          correct(b, inSeq, `${day}T05:00:00.000Z`),
        ]);
        for (const m of moves) expect(m.status).toBe(201);
        // the newest applied move wins (resolveTree): the one of the higher seq
        expected.set(phone.workerId, moves[0].body.seq > moves[1].body.seq ? '09:30' : '10:30');
      }
      const firstIns = async (t: TestApp) => {
        const res = await http(
          t.baseUrl,
          'GET',
          `/api/v5/sites/${siteId}/timesheets?from=${day}&to=${day}&limit=100`,
          { key: t.keys.auditor },
        );
        expect(res.status).toBe(200);
        return new Map(
          (res.body.days as { workerId: string; firstIn: string }[]).map((d) => [
            d.workerId,
            d.firstIn.slice(11, 16),
          ]),
        );
      };
      expect(await firstIns(a)).toEqual(expected);
      expect(await firstIns(b)).toEqual(expected);
      await a.app.get(TimesheetProjector).rebuildSite(siteId);
      expect(await firstIns(b)).toEqual(expected);
    });

    // The store side of the race, each replica through its own adapter and connections: the
    // MongoDB test server lets upserts that matched nothing race (as a mongod does when it does
    // not retry them), so the interleavings below are the real ones.
    const repos = () =>
      [a, b].map((t) => t.app.get(TimesheetRepository, { strict: false })) as [
        TimesheetRepository,
        TimesheetRepository,
      ];

    it('should keep the newer of two recomputes that create one day at once, whichever inserts first', async () => {
      const [older, newer] = repos();
      const siteId = 'race-days';
      const workers = ['w1', 'w2', 'w3', 'w4'];
      const replace = (
        repo: TimesheetRepository,
        workerId: string,
        seconds: number,
        basis: number,
      ) =>
        repo.replaceDays([
          {
            siteId,
            workerId,
            fromDay: '2026-05-01',
            toDay: '2026-05-02',
            days: [dayOf(siteId, workerId, '2026-05-01', seconds)],
            basis,
          },
        ]);
      // the older recomputes (a check-in alone: an open shift) reach the store first, and are
      // inside their upserts when the newer ones arrive
      const olders = Promise.all(workers.map((w) => replace(older, w, 0, 1)));
      await new Promise((resolve) => setTimeout(resolve, 5));
      await Promise.all([olders, ...workers.map((w) => replace(newer, w, 28_800, 2))]);
      const days = await older
        .listDays({
          siteId,
          fromDay: '2026-05-01',
          toDay: '2026-05-31',
          limit: 10,
        })
        .then((p) => p.days);
      expect(days.map((d) => [d.workerId, d.day, d.workedSeconds])).toEqual(
        workers.map((w) => [w, '2026-05-01', 28_800]),
      );
    });

    it("should let two replicas store one worker's entries at once (its pending mark, version and entries created once)", async () => {
      const [first, second] = repos();
      const siteId = 'race-marks';
      const mark = { siteId, workerId: 'w1', min: 1_000, max: 2_000 };
      const entries = [
        timesheetPunch(1, { siteId, packetId: `${siteId}-1` }),
        timesheetPunch(2, { siteId, packetId: `${siteId}-2` }),
      ];
      const stored = await Promise.all([
        first.insertEntries(entries, [mark]),
        second.insertEntries(entries, [mark]),
      ]);
      expect(stored[0] + stored[1]).toBe(2);
      expect(await first.listPending(10, undefined, siteId)).toEqual([mark]);
      expect((await second.versionsOf(siteId, ['w1'])).get('w1')).toBe(2);
      expect(await first.listEntries(siteId, 0, 10)).toHaveLength(2);
    });
  },
  { clock },
);
