import { retagStoreMac } from '@app/api/admin/keys-retag';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { StoreMac } from '@app/tlog';
import { dataDirApp, dropRetiredStoreMacKey } from './support/tamper';
import { TestApp } from './support/test-app';
import { ago, punch, recentTimesheetDays, siteWithShift, sync } from './support/timesheet-client';

const UNIT = 30_000;
const CLEARED = 'Timesheet read model tagged under a key not held';

const EMPTY = 'Timesheet read model empty';

/** The log lines (pino's JSON) whose message starts with `message`. */
function logLines(t: TestApp, message: string): Array<Record<string, unknown>> {
  return t
    .logs()
    .split('\n')
    .filter((line) => line.includes(message))
    .map((line) => JSON.parse(line) as { msg: string })
    .filter((line) => line.msg.startsWith(message));
}

/** The pino levels of the log lines whose message starts with `message`. */
const logged = (t: TestApp, message: string) => logLines(t, message).map((line) => line.level);

/**
 * Review H-1: the read model stored one key id (the key at its last reset), so rows tagged
 * under a later key were not accounted for: once that key left STORE_MAC_RETIRED_KEYS while the
 * stored one was still held, nothing reset and every read of the site answered 503
 * timesheets_tampered. The store now records every key its rows have been tagged under.
 */
describe('store-MAC rotations and the timesheet read model (e2e)', () => {
  const server = dataDirApp('storemac-ts', { TRUST_AUTO_BLOCK_FLOOR: '0' });

  it('should warn when a start clears a read model that has rows (not as a fresh one), once', async () => {
    let t = await server.start();
    const first = t.app.get(StoreMac).kid;
    const { siteId } = await siteWithShift(t, 9 * UNIT, 8 * UNIT);
    const days = await recentTimesheetDays(t, siteId);
    expect(days.flatMap((d) => d.seqs as number[])).toEqual([1, 2]);
    expect(await t.app.get(TimesheetRepository).isEmpty()).toBe(false);

    // rotated, the records keys:retag keeps (workers, sites: SiteSeal) re-tagged as the README
    // says, and the key the read model's rows were tagged under dropped: none of them would verify
    t = await server.restart((dataDir) => rotateLocalKeys(dataDir, ['mac'], new Date()));
    const second = t.app.get(StoreMac).kid;
    expect(await retagStoreMac(t.app, { except: [], force: false }, () => undefined)).toBe(0);
    t = await server.restart((dataDir) => dropRetiredStoreMacKey(dataDir, first));
    // a read queues behind the start's check of the read model's keys: re-read from the ledger
    expect(await recentTimesheetDays(t, siteId)).toEqual(days);
    expect(
      logLines(t, CLEARED).map(({ level, storedKids, notHeld, kid }) => ({
        level,
        storedKids,
        notHeld,
        kid,
      })),
    ).toEqual([{ level: 40, storedKids: [first, second], notHeld: [first], kid: second }]);
    // not said as a fresh install's empty read model
    expect(logged(t, EMPTY)).toEqual([]);

    // the next start holds the key the rows are tagged under now: nothing cleared, nothing said
    t = await server.restart();
    expect(await recentTimesheetDays(t, siteId)).toEqual(days);
    expect(logged(t, CLEARED)).toEqual([]);
    expect(logged(t, EMPTY)).toEqual([]);
  });

  it('should rebuild the read model when a key its rows were tagged under is dropped', async () => {
    let t = await server.start();
    const { siteId, phone: asha } = await siteWithShift(t, 9 * UNIT, 8 * UNIT);
    await recentTimesheetDays(t, siteId);
    const first = t.app.get(StoreMac).kid;
    // a fresh install's empty read model is tagged without a warning: nothing was cleared
    expect(logged(t, CLEARED)).toEqual([]);
    expect(logged(t, EMPTY)).toEqual([30]);

    // rotate: the second key tags the rows written from now on
    t = await server.restart((dataDir) => rotateLocalKeys(dataDir, ['mac'], new Date()));
    const second = t.app.get(StoreMac).kid;
    expect(second).not.toBe(first);
    await sync(t.baseUrl, asha, [
      punch(asha, 'check_in', ago(6 * UNIT)),
      punch(asha, 'check_out', ago(5 * UNIT)),
    ]);
    const days = await recentTimesheetDays(t, siteId);
    expect(days.flatMap((d) => d.seqs as number[])).toEqual([1, 2, 3, 4]);
    // recorded at the start, before a row was written under it
    expect(await t.app.get(TimesheetRepository).sealKids()).toEqual([first, second]);

    // rotate again and drop the second key (the first stays retired)
    t = await server.restart((dataDir) => {
      rotateLocalKeys(dataDir, ['mac'], new Date());
      dropRetiredStoreMacKey(dataDir, second);
    });
    const third = t.app.get(StoreMac).kid;
    // every read answers 200: the read model was cleared and re-read from the ledger
    expect(await recentTimesheetDays(t, siteId)).toEqual(days);
    expect(await t.app.get(TimesheetRepository).sealKids()).toEqual([third]);
    t = await server.restart();
    expect(await recentTimesheetDays(t, siteId)).toEqual(days);
  });
});
