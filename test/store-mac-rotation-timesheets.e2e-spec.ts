import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { readStored, SECRETS_FILE, writeStored } from '@app/common';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { StoreMac } from '@app/tlog';
import { startTestApp, TestApp } from './support/test-app';
import { allTimesheetDays, createSite, phoneAt, punch, sync } from './support/timesheet-client';

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const UNIT = 30_000;
const CLEARED = 'Timesheet read model tagged under a key not held';

/** The pino levels of the log lines whose message starts with `message`. */
function logged(t: TestApp, message: string): number[] {
  return t
    .logs()
    .split('\n')
    .filter((line) => line.includes(message))
    .map((line) => JSON.parse(line) as { level: number; msg: string })
    .filter((line) => line.msg.startsWith(message))
    .map((line) => line.level);
}

/**
 * Review H-1: the read model stored one key id (the key at its last reset), so rows tagged
 * under a later key were not accounted for: once that key left STORE_MAC_RETIRED_KEYS while the
 * stored one was still held, nothing reset and every read of the site answered 503
 * timesheets_tampered. The store now records every key its rows have been tagged under.
 */
describe('store-MAC rotations and the timesheet read model (e2e)', () => {
  let dataDir: string;
  let t: TestApp | undefined;
  const env = () => ({ DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' });
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-storemac-ts-'));
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
  const restart = async () => {
    await t!.close({ keepData: true });
    t = await startTestApp(env());
  };
  /** Drops the retired store-MAC key `kid` from secrets.json, as the docs allow. */
  const dropRetired = (kid: string) => {
    const file = join(dataDir, SECRETS_FILE);
    const stored = readStored(file);
    const history = JSON.parse(stored.STORE_MAC_RETIRED_KEYS) as Array<{ kid: string }>;
    expect(history.map((k) => k.kid)).toContain(kid);
    stored.STORE_MAC_RETIRED_KEYS = JSON.stringify(history.filter((k) => k.kid !== kid));
    writeStored(file, stored);
  };

  it('should rebuild the read model when a key its rows were tagged under is dropped', async () => {
    t = await startTestApp(env());
    const { siteId } = await createSite(t.baseUrl, t.keys.admin);
    const asha = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    await sync(t.baseUrl, asha, [
      punch(asha, 'check_in', ago(9 * UNIT)),
      punch(asha, 'check_out', ago(8 * UNIT)),
    ]);
    await allTimesheetDays(t.baseUrl, t.keys.admin, siteId, period());
    const first = t.app.get(StoreMac).kid;
    // a fresh install's empty read model is tagged without a warning: nothing was cleared
    expect(logged(t, CLEARED)).toEqual([]);
    expect(logged(t, 'Timesheet read model empty')).toEqual([30]);

    // rotate: the second key tags the rows written from now on
    await t.close({ keepData: true });
    t = undefined;
    rotateLocalKeys(dataDir, ['mac'], new Date());
    t = await startTestApp(env());
    const second = t.app.get(StoreMac).kid;
    expect(second).not.toBe(first);
    await sync(t.baseUrl, asha, [
      punch(asha, 'check_in', ago(6 * UNIT)),
      punch(asha, 'check_out', ago(5 * UNIT)),
    ]);
    const days = await allTimesheetDays(t.baseUrl, t.keys.admin, siteId, period());
    expect(days.flatMap((d) => d.seqs as number[])).toEqual([1, 2, 3, 4]);
    // recorded at the start, before a row was written under it
    expect(await t.app.get(TimesheetRepository).sealKids()).toEqual([first, second]);

    // rotate again and drop the second key (the first stays retired)
    await t.close({ keepData: true });
    t = undefined;
    rotateLocalKeys(dataDir, ['mac'], new Date());
    dropRetired(second);
    t = await startTestApp(env());
    const third = t.app.get(StoreMac).kid;
    // every read answers 200: the read model was cleared and re-read from the ledger
    expect(await allTimesheetDays(t.baseUrl, t.keys.admin, siteId, period())).toEqual(days);
    expect(await t.app.get(TimesheetRepository).sealKids()).toEqual([third]);
    await restart();
    expect(await allTimesheetDays(t.baseUrl, t.keys.admin, siteId, period())).toEqual(days);
  });
});
