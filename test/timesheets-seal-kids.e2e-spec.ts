import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { StoreMac } from '@app/tlog';
import { dataDirApp } from './support/tamper';
import { e2eDriver, storeSet, TestApp } from './support/test-app';
import { recentTimesheetDays, siteWithShift } from './support/timesheet-client';

const UNIT = 30_000;

/**
 * Review L1: `timesheet_seal.kids`, the list of store-MAC key ids the read model's rows were
 * tagged under, written outside the server as garbage or as another JSON type, made the
 * start's re-tag throw (every start: the rows kept, the list never repaired). It is now taken
 * as an unknown history: the read model is cleared and each site re-read from the ledger, the
 * list recorded anew. On the suite store (SQLite file or MongoDB).
 */
describe('timesheet read model: a malformed list of key ids (e2e)', () => {
  const server = dataDirApp('sealkids', { TRUST_AUTO_BLOCK_FLOOR: '0' });

  /** Stores `kids` as written by a database writer: SQLite's TEXT column, MongoDB's field. */
  const writeKids = (app: TestApp, sqlite: string, mongo: unknown) =>
    e2eDriver === 'mongo'
      ? storeSet(app, 'timesheet_seal', 'kid', { sqlite: {}, mongo: { kids: mongo } })
      : storeSet(app, 'timesheet_seal', '1', { sqlite: { kids: sqlite }, mongo: {} });

  it.each([
    ['not JSON', 'not json [', 'not json ['],
    ['a JSON object', '{"kid":"x"}', { kid: 'x' }],
  ])('should clear and re-read the read model when kids is %s', async (_, sqlite, mongo) => {
    let t = await server.start();
    const { siteId } = await siteWithShift(t, 9 * UNIT, 8 * UNIT);
    const days = await recentTimesheetDays(t, siteId);
    expect(days.flatMap((d) => d.seqs as number[])).toEqual([1, 2]);
    const kid = t.app.get(StoreMac).kid;

    await writeKids(t, sqlite, mongo);
    t = await server.restart();
    // the start cleared the rows and recorded its key alone; the site is read again from the
    // ledger, tagged anew: the same days
    expect(await recentTimesheetDays(t, siteId)).toEqual(days);
    expect(await t.app.get(TimesheetRepository).sealKids()).toEqual([kid]);
  });
});
