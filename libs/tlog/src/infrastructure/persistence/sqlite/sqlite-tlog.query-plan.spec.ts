import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { explainQueryPlan, planProblems } from '@app/persistence/testing/query-plan';
import { SqliteTlogRepository, TLOG_LATEST_OF_EACH_SQL } from './sqlite-tlog.repository';

describe('SqliteTlogRepository query plans', () => {
  let dir: string;
  let store: SqliteStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-tlog-plan-'));
    store = new SqliteStore(join(dir, 'plan.sqlite'));
    new SqliteTlogRepository(store); // applies the migrations
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("should read the latest checkpoints of a page of logs by seeks, one of each index per log, no scan of a log's checkpoints", () => {
    const origins = JSON.stringify(['mdai.local/ledger/a', 'mdai.local/ledger/b']);
    const plan = explainQueryPlan(store.db, TLOG_LATEST_OF_EACH_SQL, [origins]);
    // the parameter's JSON array (one row per origin) is the only thing scanned
    expect(planProblems(plan).filter((step) => !step.startsWith('SCAN j VIRTUAL TABLE'))).toEqual(
      [],
    );
    expect(plan.filter((step) => / (l|c|m) /.test(step))).toEqual([
      expect.stringMatching(/^SEARCH l USING COVERING INDEX \S+ \(origin=\?\)$/),
      'SEARCH c USING PRIMARY KEY (log_id=? AND size=?)',
      'SEARCH m USING PRIMARY KEY (log_id=?)',
    ]);
  });
});
