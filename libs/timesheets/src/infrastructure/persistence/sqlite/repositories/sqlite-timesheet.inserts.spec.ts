import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { StoreMac } from '@app/tlog';
import { timesheetPunch } from '../../../../testing/timesheet-punch';
import { TimesheetSeal } from '../../timesheet-seal';
import { SqliteTimesheetRepository } from './sqlite-timesheet.repository';

/** Rows in an INSERT's VALUES list. */
const rowsOf = (sql: string): number => sql.split('), (').length;

/**
 * The multi-row INSERTs of timesheet entries (10, 100 and 500 rows) are prepared on their first
 * use, not at boot: the first batch after a boot still stores every entry, each statement is
 * prepared once.
 */
describe('SqliteTimesheetRepository: multi-row inserts prepared on first use', () => {
  let dir: string;
  let store: SqliteStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-timesheet-inserts-'));
    store = new SqliteStore(join(dir, 'mdai.sqlite'));
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should prepare only the 1-row insert at construction, and store a first batch of 611 entries', async () => {
    const prepared: string[] = [];
    const prepare = store.db.prepare.bind(store.db);
    jest.spyOn(store.db, 'prepare').mockImplementation((sql: string) => {
      prepared.push(sql);
      return prepare(sql);
    });
    const seal = new TimesheetSeal(
      new StoreMac({ signingKey: generateKeyPairSync('ed25519').privateKey }),
    );
    const repo = new SqliteTimesheetRepository(store, seal);
    const inserts = () =>
      prepared.filter((sql) => sql.startsWith('INSERT OR IGNORE INTO timesheet_entries'));
    expect(inserts().map(rowsOf)).toEqual([1]);

    // 500 + 100 + 10 + 1: each statement used once
    const first = Array.from({ length: 611 }, (_, i) => timesheetPunch(i + 1));
    expect(await repo.insertEntries(first, [], [])).toBe(611);
    expect(inserts().map(rowsOf)).toEqual([1, 500, 100, 10]);
    // and again, with the statements already prepared (a duplicate ignored)
    const second = Array.from({ length: 611 }, (_, i) => timesheetPunch(i + 611));
    expect(await repo.insertEntries(second, [], [])).toBe(610);
    expect(inserts().map(rowsOf)).toEqual([1, 500, 100, 10]);

    const stored = store.db
      .prepare('SELECT COUNT(*) AS n, MIN(seq) AS lo, MAX(seq) AS hi FROM timesheet_entries')
      .get();
    expect(stored).toEqual({ n: 1221, lo: 1, hi: 1221 });
    const page = await repo.listEntries('S', 0, 1221);
    expect(page.map((e) => e.seq)).toEqual(Array.from({ length: 1221 }, (_, i) => i + 1));
  });
});
