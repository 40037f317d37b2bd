import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@app/common';
import { MongoStore, Store } from '@app/persistence';
import { ApiProcess, startApiProcess } from './support/processes';
import { e2eDriver, gauge, http, slowOnMongo, startTestApp, TestApp } from './support/test-app';
import { createSite, phoneAt, punch, sync } from './support/timesheet-client';
import { Phone } from './support/worker-client';

/** Workers with a check-in a day, each check-in the target of one round. */
const PHONES = 4;
/** Days of check-ins per worker (fewer on the MongoDB test server, which scans in Python). */
const DAYS = e2eDriver === 'mongo' ? 5 : 10;
const ROUNDS = PHONES * DAYS;
/** The check-ins' days, well before the child processes' own (real) clock. */
const DAY = Array.from({ length: DAYS }, (_, i) => `2026-02-${String(2 + i).padStart(2, '0')}`);

/**
 * Two real API processes on one store (one SQLite file, or one MongoDB database under
 * `npm run test:mongo`), and an admin on each adding a check-out to the same check-in at the
 * same moment: the rules (one check-out per check-in) must hold across the processes, not only
 * within one. Each round exactly one is appended and the other is refused 409
 * `already_checked_out`, never both appended. A third app on the store (this test's, on a
 * controllable clock) syncs another worker's punches to the same site meanwhile: they move the
 * chain's head between a correction's check and its append, which must make it check again,
 * never fail it.
 */
describe('timesheet corrections on two API processes sharing a store (e2e)', () => {
  let dataDir: string;
  let setup: TestApp;
  let a: ApiProcess | undefined;
  let b: ApiProcess | undefined;
  const clock = new ManualClock(`${DAY[0]}T00:00:00.000Z`);
  const env = { TRUST_AUTO_BLOCK_FLOOR: '0', SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 60) };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-corrections-replicas-'));
    setup = await startTestApp({ ...env, DATA_DIR: dataDir }, { clock });
    [a, b] = await Promise.all([
      startApiProcess({ ...env, DATA_DIR: dataDir }),
      startApiProcess({ ...env, DATA_DIR: dataDir }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await a?.kill();
    await b?.kill();
    const store = setup?.app.get(Store);
    if (store instanceof MongoStore) await store.connection.dropDatabase();
    await setup?.close({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'should append one of two add_check_out sent to both processes at once and refuse the other 409',
    async () => {
      const admin = setup.keys.admin;
      const { siteId } = await createSite(setup.baseUrl, admin, 'Asia/Kolkata');
      const phones: Phone[] = [];
      for (let i = 0; i < PHONES + 1; i++) phones.push(await phoneAt(setup.baseUrl, admin, siteId));
      const noise = phones.pop()!;
      clock.set(`${DAY[DAYS - 1]}T20:00:00.000Z`);
      // 09:00 IST check-ins, no check-outs: each waits for an added one
      const targets: { seq: number; at: string }[] = [];
      for (const phone of phones) {
        const synced = await sync(
          setup.baseUrl,
          phone,
          DAY.map((day) => punch(phone, 'check_in', `${day}T03:30:00.000Z`)),
        );
        expect(synced.accepted).toBe(DAYS);
        synced.results.forEach((r, i) => targets.push({ seq: r.seq!, at: DAY[i] }));
      }
      const addCheckOut = (server: ApiProcess, seq: number, at: string) =>
        http(server.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
          key: admin,
          body: { action: 'add_check_out', target: { siteId, seq }, at, reason: 'site register' },
        });
      const outcomes: string[] = [];
      for (const [round, target] of targets.entries()) {
        const [fromA, fromB] = await Promise.all([
          addCheckOut(a!, target.seq, `${target.at}T11:30:00.000Z`),
          addCheckOut(b!, target.seq, `${target.at}T12:30:00.000Z`),
          // another worker's punch on the same chain, at the same moment
          sync(setup.baseUrl, noise, [
            punch(
              noise,
              round % 2 === 0 ? 'check_in' : 'check_out',
              `${DAY[DAYS - 1]}T14:${String(round).padStart(2, '0')}:00.000Z`,
            ),
          ]),
        ]);
        outcomes.push(
          [fromA, fromB]
            .map((r) => `${r.status}${r.status === 201 ? '' : ` ${r.body?.code}`}`)
            .sort()
            .join(' + '),
        );
      }
      const both = outcomes.filter((o) => o === '201 + 201').length;
      expect({ both, rounds: ROUNDS }).toEqual({ both: 0, rounds: ROUNDS });
      expect(outcomes).toEqual(targets.map(() => '201 + 409 already_checked_out'));

      // the chain holds one added check-out per check-in, and verifies
      const exported = await fetch(`${a!.baseUrl}/api/v5/ledger/${siteId}/export`, {
        headers: { 'x-api-key': admin },
      });
      const added = new Map<number, number>();
      for (const line of (await exported.text()).split('\n').filter(Boolean)) {
        const { data } = JSON.parse(line) as { data: { kind?: string; target?: { seq: number } } };
        if (data.kind === 'timesheet_correction')
          added.set(data.target!.seq, (added.get(data.target!.seq) ?? 0) + 1);
      }
      expect([...added.values()]).toEqual(targets.map(() => 1));
      const verdict = await http(b!.baseUrl, 'GET', `/api/v5/ledger/${siteId}/verify`, {
        key: admin,
      });
      expect(verdict.body).toMatchObject({ ok: true });
      // each process counts the checks it did again (the other's correction, the syncs'
      // punches): the counter is exported (gauge throws when it is not) as a count; how many
      // there were depends on timing, so the number itself is not asserted
      for (const server of [a!, b!]) {
        const retries = await gauge(server.baseUrl, 'mdai_timesheet_correction_retries_total');
        expect(Number.isInteger(retries) && retries >= 0).toBe(true);
      }
    },
    slowOnMongo(120_000),
  );
});
