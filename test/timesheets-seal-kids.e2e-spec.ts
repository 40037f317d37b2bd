import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { StoreMac } from '@app/tlog';
import { e2eDriver, startTestApp, storeSet, TestApp } from './support/test-app';
import { allTimesheetDays, createSite, phoneAt, punch, sync } from './support/timesheet-client';

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const UNIT = 30_000;

/**
 * Review L1: `timesheet_seal.kids`, the list of store-MAC key ids the read model's rows were
 * tagged under, written outside the server as garbage or as another JSON type, made the
 * start's re-tag throw (every start: the rows kept, the list never repaired). It is now taken
 * as an unknown history: the read model is cleared and each site re-read from the ledger, the
 * list recorded anew. On the suite store (SQLite file or MongoDB).
 */
describe('timesheet read model: a malformed list of key ids (e2e)', () => {
  let dataDir: string;
  let t: TestApp | undefined;
  const env = () => ({ DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' });
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-sealkids-'));
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  const period = () => {
    const to = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const from = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    return `from=${from}&to=${to}`;
  };

  /** Stores `kids` as written by a database writer: SQLite's TEXT column, MongoDB's field. */
  const writeKids = (app: TestApp, sqlite: string, mongo: unknown) =>
    e2eDriver === 'mongo'
      ? storeSet(app, 'timesheet_seal', 'kid', { sqlite: {}, mongo: { kids: mongo } })
      : storeSet(app, 'timesheet_seal', '1', { sqlite: { kids: sqlite }, mongo: {} });

  it.each([
    ['not JSON', 'not json [', 'not json ['],
    ['a JSON object', '{"kid":"x"}', { kid: 'x' }],
  ])('should clear and re-read the read model when kids is %s', async (_, sqlite, mongo) => {
    t = await startTestApp(env());
    const { siteId } = await createSite(t.baseUrl, t.keys.admin);
    const asha = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    await sync(t.baseUrl, asha, [
      punch(asha, 'check_in', ago(9 * UNIT)),
      punch(asha, 'check_out', ago(8 * UNIT)),
    ]);
    const days = await allTimesheetDays(t.baseUrl, t.keys.admin, siteId, period());
    expect(days.flatMap((d) => d.seqs as number[])).toEqual([1, 2]);
    const kid = t.app.get(StoreMac).kid;

    await writeKids(t, sqlite, mongo);
    await t.close({ keepData: true });
    t = await startTestApp(env());
    // the start cleared the rows and recorded its key alone; the site is read again from the
    // ledger, tagged anew: the same days
    expect(await allTimesheetDays(t.baseUrl, t.keys.admin, siteId, period())).toEqual(days);
    expect(await t.app.get(TimesheetRepository).sealKids()).toEqual([kid]);
  });
});
