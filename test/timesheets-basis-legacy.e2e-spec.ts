import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LedgerService } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { MongoStore, Store } from '@app/persistence';
import { TimesheetSeal } from '@app/timesheets/infrastructure/persistence/timesheet-seal';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { http, itOnMongo, pollUntil, startTestApp, TestApp } from './support/test-app';
import { recordWorkersOf } from './support/ledger-workers';
import { createSite } from './support/timesheet-client';

const DAY = '2026-03-02';
const at = (hour: number) => `${DAY}T${String(hour).padStart(2, '0')}:00:00.000Z`;

/**
 * Review LV #10 (MongoDB: SQLite stores no basis). A day's tag binds its `basis` when above 0;
 * a day tagged by a server from before that (its tag verifying only without the basis) is
 * recomputed at its read and was not reported. A database writer who raises the basis of a
 * day of basis 0 makes the same row, so the exemption was a silent one: it now holds only while
 * the store may hold such days (the `basisTagged` mark of `timesheet_seal` absent), and each
 * use is counted (`mdai_timesheet_rows_tampered_total{kind="day_legacy"}`) and logged.
 */
describe('timesheet days tagged before their tags bound the basis (e2e, MongoDB)', () => {
  let dataDir: string;
  let t: TestApp | undefined;
  const env = () => ({ DATA_DIR: dataDir });
  const mongo = () => t!.app.get<Store, MongoStore>(Store).connection;
  const sealDoc = async () =>
    (await mongo()
      .collection('timesheet_seal')
      .findOne({ _id: 'kid' as never })) as {
      kid: string;
      basisTagged?: boolean;
    } | null;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-basis-legacy-'));
  });
  afterEach(async () => {
    if (t) await mongo().dropDatabase();
    await t?.close();
    t = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  const metric = async (kind: string) => {
    const res = await http(t!.baseUrl, 'GET', '/metrics', { key: t!.keys.admin });
    const line = String(res.body)
      .split('\n')
      .find((l) => l.startsWith(`mdai_timesheet_rows_tampered_total{kind="${kind}"}`));
    return line ? Number(line.split(' ')[1]) : 0;
  };
  const worked = async (siteId: string, workerId: string) => {
    const res = await http(
      t!.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/payroll?from=${DAY}&to=${DAY}`,
      {
        key: t!.keys.auditor,
      },
    );
    expect([res.status, res.body?.code]).toEqual([200, undefined]);
    const workers = (res.body as { workers: Array<{ workerId: string; workedSeconds: number }> })
      .workers;
    return workers.find((w) => w.workerId === workerId)?.workedSeconds ?? 0;
  };
  /** A worker's 8 h that day, read once (stored and tagged with its basis). */
  const dayOfEightHours = async () => {
    const { siteId } = await createSite(t!.baseUrl, t!.keys.admin, 'UTC');
    const workerId = randomBytes(12).toString('hex');
    const shift = [
      punchEntry({ siteId, workerId, type: 'check_in', timestamp: at(8) }),
      punchEntry({ siteId, workerId, type: 'check_out', timestamp: at(16) }),
    ];
    await recordWorkersOf(t!.app, shift);
    await t!.app.get(LedgerService).append(shift);
    expect(await worked(siteId, workerId)).toBe(8 * 3600);
    return { siteId, workerId };
  };
  /**
   * The day's tag made over it without a basis (what a server before the basis was tagged
   * wrote, or the tag of a day of basis 0), its basis raised.
   */
  const tagWithoutBasis = async (siteId: string, workerId: string) => {
    const days = mongo().collection('timesheet_days');
    const row = (await days.findOne({ siteId, workerId, day: DAY }))!;
    const tag = t!.app
      .get(TimesheetSeal)
      .dayTag(siteId, workerId, DAY, row.workedSeconds as number, row.body as string);
    await days.updateOne({ _id: row._id }, { $set: { basis: 1e12, tag } });
  };

  itOnMongo(
    'should count a day whose tag verifies only without its raised basis as changed outside the server on a store whose days all bind their basis',
    async () => {
      t = await startTestApp(env());
      // a new store: cleared and marked at the first start (every day is this server's)
      const marked = await pollUntil(sealDoc, (doc) => doc?.basisTagged === true);
      expect(marked).toMatchObject({ basisTagged: true });
      const { siteId, workerId } = await dayOfEightHours();
      await tagWithoutBasis(siteId, workerId);
      const [day, legacy] = [await metric('day'), await metric('day_legacy')];

      expect(await worked(siteId, workerId)).toBe(8 * 3600);
      expect(await metric('day')).toBe(day + 1);
      expect(await metric('day_legacy')).toBe(legacy);
      expect(t.logs()).toMatch(
        new RegExp(`"siteId":"${siteId}","workerId":"${workerId}","day":"${DAY}".*changed outside`),
      );
    },
  );

  /** The start's look for days tagged before the basis, done. */
  const looked = () =>
    t!.app.get<TimesheetRepository, { legacyLook: Promise<void> }>(TimesheetRepository).legacyLook;

  itOnMongo(
    'should recompute such a day on a store upgraded from before, counted as day_legacy, and end the exemption at a start that finds none left',
    async () => {
      t = await startTestApp(env());
      await pollUntil(sealDoc, (doc) => doc?.basisTagged === true);
      const { siteId, workerId } = await dayOfEightHours();
      // the store of a server from before the mark: a day of that server's is left
      await mongo()
        .collection('timesheet_seal')
        .updateOne({ _id: 'kid' as never }, { $unset: { basisTagged: '' } });
      await tagWithoutBasis(siteId, workerId);
      const [day, legacy] = [await metric('day'), await metric('day_legacy')];
      expect(await worked(siteId, workerId)).toBe(8 * 3600);
      expect(await metric('day_legacy')).toBe(legacy + 1);
      expect(await metric('day')).toBe(day);
      expect(t.logs()).toContain(
        'Timesheet days tagged before their tags covered the basis: recomputed',
      );
      // another such day left at the next start: the start leaves the exemption on
      await tagWithoutBasis(siteId, workerId);
      await t.close({ keepData: true });
      t = await startTestApp(env());
      await looked();
      expect((await sealDoc())?.basisTagged).toBeUndefined();
      expect(await worked(siteId, workerId)).toBe(8 * 3600);
      expect(await metric('day_legacy')).toBe(1);
      await t.close({ keepData: true });

      // none left: the next start ends the exemption, and such a day is a changed one
      t = await startTestApp(env());
      await looked();
      expect((await sealDoc())?.basisTagged).toBe(true);
      await tagWithoutBasis(siteId, workerId);
      expect(await worked(siteId, workerId)).toBe(8 * 3600);
      expect(await metric('day')).toBe(1);
      expect(await metric('day_legacy')).toBe(0);
    },
    120_000,
  );

  itOnMongo(
    'should end the exemption after STORE_MAC_KEY was rotated (the store still under the retired key)',
    async () => {
      t = await startTestApp(env());
      await pollUntil(sealDoc, (doc) => doc?.basisTagged === true);
      await dayOfEightHours();
      // a store from before the mark, then the key rotated (the old one retired, still held)
      await mongo()
        .collection('timesheet_seal')
        .updateOne({ _id: 'kid' as never }, { $unset: { basisTagged: '' } });
      const kid = (await sealDoc())!.kid;
      await t.close({ keepData: true });
      rotateLocalKeys(dataDir, ['mac'], new Date(), 3600);
      t = await startTestApp(env());
      expect(t.app.get(TimesheetSeal).kid).not.toBe(kid);
      await looked();
      // no day left from before: marked, on the store of the retired key (not reset)
      expect(await sealDoc()).toMatchObject({ kid, basisTagged: true });
    },
    120_000,
  );
});
