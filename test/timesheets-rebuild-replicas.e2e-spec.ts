import { ManualClock } from '@app/common';
import { TimesheetProjector } from '@app/timesheets';
import { describeReplicas, http, startTestApp, TestApp } from './support/test-app';
import { allTimesheetDays, createSite, phoneAt, punch, sync } from './support/timesheet-client';
import { Phone } from './support/worker-client';

const PHONES = 3;
/** Days synced before the rebuild starts. */
const SEEDED = 8;
/** Days synced, at most, while it runs (one after another until it ends). */
const DURING = 8;
const DAYS = Array.from(
  { length: SEEDED + DURING },
  (_, i) => `2026-04-${String(1 + i).padStart(2, '0')}`,
);

interface DayView {
  workerId: string;
  date: string;
  hours: number;
  seqs: number[];
}

async function allDays(t: TestApp, siteId: string): Promise<DayView[]> {
  const period = `from=${DAYS[0]}&to=${DAYS[DAYS.length - 1]}`;
  const days = await allTimesheetDays(t.baseUrl, t.keys.auditor, siteId, period);
  return days.map(({ workerId, date, hours, seqs }) => ({ workerId, date, hours, seqs }));
}

/**
 * `npm run timesheets:rebuild` is a third process on the replicas' store (scripts/
 * timesheets-rebuild.ts boots the app and calls `rebuildAll`): it forgets a site's read model
 * and takes its chain again while a replica keeps taking syncs of the same workers, whose
 * recomputes read punches the rebuild has deleted and not stored again yet. Both replicas must
 * end with the right hours (every day a 6, 7 or 8-hour shift, by phone), equal to what
 * another rebuild gives. SQLite is one process: skipped there.
 */
const clock = new ManualClock(`${DAYS[0]}T00:00:00.000Z`);
describeReplicas(
  'timesheet rebuild while two replicas project (e2e)',
  (replicas) => {
    let a: TestApp;
    let b: TestApp;
    beforeAll(() => ({ a, b } = replicas()));

    it('should leave the right hours on both replicas when a rebuild runs while one takes syncs', async () => {
      const { siteId } = await createSite(a.baseUrl, a.keys.admin, 'Asia/Kolkata');
      const phones: Phone[] = [];
      for (let i = 0; i < PHONES; i++) phones.push(await phoneAt(a.baseUrl, a.keys.admin, siteId));
      const hoursOf = new Map(phones.map((p, i) => [p.workerId, 6 + i]));
      const syncDay = (t: TestApp, day: string) => {
        clock.set(`${day}T13:00:00.000Z`);
        return Promise.all(
          phones.map((phone, i) =>
            sync(t.baseUrl, phone, [
              punch(phone, 'check_in', `${day}T03:30:00.000Z`),
              punch(phone, 'check_out', `${day}T${String(9 + i).padStart(2, '0')}:30:00.000Z`),
            ]),
          ),
        );
      };
      for (let d = 0; d < SEEDED; d++) {
        await syncDay(d % 2 === 0 ? a : b, DAYS[d]);
        expect((await allDays(b, siteId)).length).toBe((d + 1) * PHONES);
      }

      // the rebuild job: a third app on the same store, as the script runs
      const job = await startTestApp({ DATA_DIR: a.dataDir }, { clock });
      let synced = SEEDED;
      try {
        let rebuilding = true;
        const rebuild = job.app
          .get(TimesheetProjector)
          .rebuildAll()
          .finally(() => (rebuilding = false));
        const during = (async () => {
          let overlapped = 0;
          while (synced < DAYS.length && (rebuilding || synced === SEEDED)) {
            if (rebuilding) overlapped++;
            const [s] = await Promise.all([
              syncDay(b, DAYS[synced]),
              http(
                b.baseUrl,
                'GET',
                `/api/v5/sites/${siteId}/timesheets?from=${DAYS[0]}&to=${DAYS[synced]}`,
                {
                  key: b.keys.auditor,
                },
              ),
            ]);
            for (const r of s) expect(r.accepted).toBe(2);
            synced++;
          }
          return overlapped;
        })();
        const [report, overlapped] = await Promise.all([rebuild, during]);
        expect(report.sites).toBeGreaterThanOrEqual(1);
        // the syncs of at least one day ran while the rebuild did
        expect(overlapped).toBeGreaterThanOrEqual(1);
      } finally {
        await job.close({ keepData: true });
      }

      const fromA = await allDays(a, siteId);
      const fromB = await allDays(b, siteId);
      expect(fromA).toHaveLength(synced * PHONES);
      for (const d of fromA) {
        expect({ date: d.date, hours: d.hours, punches: d.seqs.length }).toEqual({
          date: d.date,
          hours: hoursOf.get(d.workerId),
          punches: 2,
        });
      }
      expect(fromB).toEqual(fromA);
      // and what a rebuild from the ledger gives, now nothing else runs
      await a.app.get(TimesheetProjector).rebuildSite(siteId);
      expect(await allDays(a, siteId)).toEqual(fromA);
      expect(await allDays(b, siteId)).toEqual(fromA);
    }, 120_000);
  },
  { clock },
);
