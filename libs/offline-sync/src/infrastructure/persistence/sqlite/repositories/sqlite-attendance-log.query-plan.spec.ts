import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import {
  explainQueryPlan,
  literalLimitPlans,
  planProblems,
} from '@app/persistence/testing/query-plan';
import {
  BY_KEYS_SQL,
  CHAIN_PAGE_SQL,
  CHAIN_TEXT_PAGE_SQL,
  DATA_AT_PLACES_SQL,
  HEAD_SEQ_SQL,
  SITE_HEADS_SQL,
  PREVIOUS_DATA_OF_WORKERS_SQL,
  PREVIOUS_PLACES_BESIDES_SQL,
  PREVIOUS_PLACES_OF_WORKERS_SQL,
  PREVIOUS_OF_WORKERS_SQL,
  SqliteAttendanceLogRepository,
  WORKERS_OF_DEVICE_BESIDES_SQL,
  WORKERS_OF_DEVICE_SQL,
} from './sqlite-attendance-log.repository';

/** `planProblems`, but the parameter's JSON array (one row per key) may be scanned. */
function ledgerProblems(plan: string[]): string[] {
  return planProblems(plan).filter((step) => !step.startsWith('SCAN json_each VIRTUAL TABLE'));
}

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

  it.each([
    ['whole links', PREVIOUS_OF_WORKERS_SQL],
    ['packet data only', PREVIOUS_DATA_OF_WORKERS_SQL],
  ])(
    "should read each worker's previous packets (%s) as index ranges, never a scan of the ledger",
    (_name, sql) => {
      const spans = JSON.stringify([
        ['w1', 1_767_254_400_000, 1_767_254_600_000],
        ['w2', 1_767_254_400_000, 1_767_254_400_000],
      ]);
      const plan = explainQueryPlan(store.db, sql, [spans]);
      expect(ledgerProblems(plan)).toEqual([]);
      const ledgerSteps = plan.filter((step) => step.includes('attendance_logs')).sort();
      // the range, and the predecessor's instant (covering), both seek the worker-time index
      expect(ledgerSteps).toEqual([
        'SEARCH l USING INDEX attendance_logs_worker_at (<expr>=? AND <expr>>? AND <expr><?)',
        'SEARCH p USING COVERING INDEX attendance_logs_worker_at (<expr>=? AND <expr><?)',
      ]);
    },
  );

  it.each([
    ['every link', PREVIOUS_PLACES_OF_WORKERS_SQL, []],
    ['a held run left out', PREVIOUS_PLACES_BESIDES_SQL, ['site-1', 10, 509]],
  ])(
    "should find each worker's previous packets' places (%s) in the worker-time index alone (covering)",
    (_name, sql, run) => {
      const spans = JSON.stringify([['w1', 1_767_254_400_000, 1_767_254_600_000]]);
      const plan = explainQueryPlan(store.db, sql, [spans, ...run]);
      expect(ledgerProblems(plan)).toEqual([]);
      // no step reads a link: the index holds the primary key (site_id, seq) of each row
      expect(plan.filter((step) => step.includes('attendance_logs')).sort()).toEqual([
        'SEARCH l USING COVERING INDEX attendance_logs_worker_at (<expr>=? AND <expr>>? AND <expr><?)',
        'SEARCH p USING COVERING INDEX attendance_logs_worker_at (<expr>=? AND <expr><?)',
      ]);
    },
  );

  it.each([
    ['every link', WORKERS_OF_DEVICE_SQL, []],
    ['a held run left out', WORKERS_OF_DEVICE_BESIDES_SQL, ['site-1', 10, 509]],
  ])("should find a device's workers (%s) by the device-time index's range", (_name, sql, run) => {
    const plan = explainQueryPlan(store.db, sql, [
      'd1',
      1_767_254_400_000,
      1_767_340_800_000,
      ...run,
    ]);
    // the temporary b-tree holds the range's distinct workers (a few), not the ledger
    expect(ledgerProblems(plan).filter((step) => step !== 'USE TEMP B-TREE FOR DISTINCT')).toEqual(
      [],
    );
    expect(plan.filter((step) => step.includes('attendance_logs'))).toEqual([
      'SEARCH attendance_logs USING INDEX attendance_logs_device_at (<expr>=? AND <expr>>? AND <expr><?)',
    ]);
  });

  it('should read links by their places, one primary-key seek each', () => {
    const places = JSON.stringify([
      ['site-1', 3],
      ['site-2', 9],
    ]);
    const plan = explainQueryPlan(store.db, DATA_AT_PLACES_SQL, [places]);
    expect(ledgerProblems(plan)).toEqual([]);
    expect(plan.filter((step) => step.includes(' l '))).toEqual([
      'SEARCH l USING PRIMARY KEY (site_id=? AND seq=?)',
    ]);
  });

  it.each([
    ['chain page', CHAIN_PAGE_SQL],
    ['chain text page', CHAIN_TEXT_PAGE_SQL],
  ])('should read a %s as a range of the primary key (limit written in)', (_name, sql) => {
    for (const afterSeq of [0, 500_000]) {
      for (const plan of literalLimitPlans(store.db, sql, ['site-1', afterSeq])) {
        expect(ledgerProblems(plan)).toEqual([]);
        expect(plan).toEqual(['SEARCH attendance_logs USING PRIMARY KEY (site_id=? AND seq>?)']);
      }
    }
  });

  it("should read a chain's head as the primary key's last entry of the site, one seek", () => {
    const plan = explainQueryPlan(store.db, HEAD_SEQ_SQL, ['site-1']);
    expect(ledgerProblems(plan)).toEqual([]);
    expect(plan).toEqual(['SEARCH attendance_logs USING PRIMARY KEY (site_id=?)']);
  });

  it("should list the sites' heads by seeks of the primary key, one per site, no scan of the links", () => {
    const plan = explainQueryPlan(store.db, SITE_HEADS_SQL, [{ after: '', limit: 500 }]);
    // the recursive CTE's own rows are scanned (one per site), never the links
    const onLinks = plan.filter((step) => /attendance_logs| a /.test(step));
    expect(ledgerProblems(onLinks)).toEqual([]);
    expect(onLinks.length).toBeGreaterThan(0);
    for (const step of onLinks)
      expect(step).toMatch(/^SEARCH \S+ USING PRIMARY KEY \(site_id[=>]\?\)$/);
  });

  it('should look (packetId, device) keys up by the unique index, one seek each', () => {
    const keys = JSON.stringify([
      ['a', 'd1'],
      ['b', 'd2'],
    ]);
    const plan = explainQueryPlan(store.db, BY_KEYS_SQL, [keys]);
    expect(ledgerProblems(plan)).toEqual([]);
    expect(plan.filter((step) => step.includes('attendance_logs'))).toEqual([
      expect.stringMatching(/^SEARCH l USING INDEX \S+ \(device_id=\? AND packet_id=\?\)$/),
    ]);
  });

  it("should key the unique index by device first: a batch's keys (one device's) sit together", () => {
    const index = store.db
      .prepare<[], { name: string }>(
        "SELECT name FROM pragma_index_list('attendance_logs') WHERE \"unique\" = 1 AND origin <> 'pk'",
      )
      .get()!;
    const columns = store.db
      .prepare<[string], { name: string }>('SELECT name FROM pragma_index_info(?) ORDER BY seqno')
      .all(index.name)
      .map((c) => c.name);
    expect(columns).toEqual(['device_id', 'packet_id']);
  });
});
