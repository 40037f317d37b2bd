import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { explainQueryPlan, planProblems } from '@app/persistence/testing/query-plan';
import {
  PREVIOUS_OF_WORKERS_SQL,
  SqliteAttendanceLogRepository,
} from './sqlite-attendance-log.repository';

describe('SqliteAttendanceLogRepository query plans', () => {
  let dir: string;
  let store: SqliteStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-ledger-plan-'));
    store = new SqliteStore(join(dir, 'plan.sqlite'));
    new SqliteAttendanceLogRepository(store); // applies the migrations
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("should read each worker's previous packets as index ranges, never a scan of the ledger", () => {
    const spans = JSON.stringify([
      ['w1', 1_767_254_400_000, 1_767_254_600_000],
      ['w2', 1_767_254_400_000, 1_767_254_400_000],
    ]);
    const plan = explainQueryPlan(store.db, PREVIOUS_OF_WORKERS_SQL, [spans]);
    // the only scan is of the parameter's JSON array (one row per worker)
    expect(planProblems(plan).filter((step) => !/^SCAN (q|span|json_each)\b/.test(step))).toEqual(
      [],
    );
    const ledgerSteps = plan.filter((step) => step.includes('attendance_logs')).sort();
    // the range, and the predecessor's instant (covering), both seek the worker-time index
    expect(ledgerSteps).toEqual([
      'SEARCH l USING INDEX attendance_logs_worker_at (<expr>=? AND <expr>>? AND <expr><?)',
      'SEARCH p USING COVERING INDEX attendance_logs_worker_at (<expr>=? AND <expr><?)',
    ]);
  });
});
