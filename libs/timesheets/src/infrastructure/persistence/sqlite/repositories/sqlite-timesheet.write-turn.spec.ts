import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { StoreMac } from '@app/tlog';
import { TimesheetDay } from '../../../../domain/timesheet-day';
import { timesheetPunch } from '../../../../testing/timesheet-punch';
import { TimesheetSeal } from '../../timesheet-seal';
import { SqliteTimesheetRepository } from './sqlite-timesheet.repository';

function day(workerId: string, d: string): TimesheetDay {
  return {
    siteId: 'S',
    workerId,
    day: d,
    shifts: [{ inSeq: 1, in: 0, outSeq: 2, out: 3_600_000, seconds: 3600 }],
    workedSeconds: 3600,
    firstIn: 0,
    lastOut: 3_600_000,
    flags: [],
    corrected: false,
    seqs: [1, 2],
    packets: [['packet-1', 1]],
  };
}

/**
 * The store's write turn is the process's one writer at a time (the ledger's append thread
 * waits for it): the read model's rows are serialised and tagged (an HMAC each) before it is
 * taken, and the transaction runs only the statements.
 */
describe('SqliteTimesheetRepository: rows tagged before the write turn', () => {
  let dir: string;
  let store: SqliteStore;
  let seal: TimesheetSeal;
  let repo: SqliteTimesheetRepository;
  /** For each tag made: whether the store's connection was inside a transaction. */
  let inTransaction: boolean[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-timesheet-turn-'));
    store = new SqliteStore(join(dir, 'mdai.sqlite'));
    seal = new TimesheetSeal(
      new StoreMac({ signingKey: generateKeyPairSync('ed25519').privateKey }),
    );
    inTransaction = [];
    for (const method of ['entryTag', 'dayTag'] as const) {
      const real = seal[method].bind(seal) as (...args: unknown[]) => string;
      jest.spyOn(seal, method).mockImplementation((...args: unknown[]) => {
        inTransaction.push(store.db.inTransaction);
        return real(...args);
      });
    }
    repo = new SqliteTimesheetRepository(store, seal);
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("should tag entries, their states and days outside the store's transaction, and store tags that verify", async () => {
    const entries = Array.from({ length: 123 }, (_, i) => timesheetPunch(i + 1));
    expect(await repo.insertEntries(entries, [], [])).toBe(123);
    await repo.updateEntryStates([{ ...entries[0], effectiveAt: 5_000 }]);
    await repo.insertEntries([timesheetPunch(200)], [], [{ ...entries[1], voided: true }]);
    await repo.replaceDays([
      {
        siteId: 'S',
        workerId: 'w1',
        fromDay: '2026-03-01',
        toDay: '2026-03-02',
        days: [day('w1', '2026-03-01'), day('w1', '2026-03-02')],
      },
    ]);

    // 124 entries, 2 states, 2 days: every tag made before the transaction
    expect(inTransaction).toHaveLength(128);
    expect(inTransaction.filter(Boolean)).toHaveLength(0);
    // what was stored reads back with its tags checked
    const found = await repo.findEntries('S', [1, 2, 123, 200]);
    expect(found.map((e) => e.seq)).toEqual([1, 2, 123, 200]);
    expect(found[0].effectiveAt).toBe(5_000);
    expect(found[1].voided).toBe(true);
    const days = await repo.listDays({
      siteId: 'S',
      fromDay: '2026-03-01',
      toDay: '2026-03-31',
      limit: 10,
    });
    expect(days.days.map((d) => d.day)).toEqual(['2026-03-01', '2026-03-02']);
  });
});
