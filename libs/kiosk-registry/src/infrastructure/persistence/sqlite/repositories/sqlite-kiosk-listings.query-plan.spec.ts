import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { explainQueryPlan, planProblems } from '@app/persistence/testing/query-plan';
import {
  KIOSK_EVENTS_SQL,
  KIOSK_LIST_SQL,
  KIOSK_PREFIX_LIST_SQL,
  SqliteKioskDeviceRepository,
} from './sqlite-kiosk-device.repository';

/**
 * GET /api/kiosks, /api/kiosks/:id/events: each page (first or after a
 * cursor) seeks an index, so any page costs the same and a walk through all pages is linear.
 */
describe('SQLite kiosk listings query plans', () => {
  let dir: string;
  let store: SqliteStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-kiosk-plan-'));
    store = new SqliteStore(join(dir, 'plan.sqlite'));
    new SqliteKioskDeviceRepository(store); // applies the migrations
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['kiosks, first page', KIOSK_LIST_SQL, ['', 50], /device_id>\?/],
    ['kiosks, after a cursor', KIOSK_LIST_SQL, ['K-500000', 50], /device_id>\?/],
    // as LimitedStatement runs them: the limit written into the SQL
    ['kiosks, limit as a literal', literalLimit(KIOSK_LIST_SQL, 50), ['K-500000'], /device_id>\?/],
    ['kiosks by prefix', KIOSK_PREFIX_LIST_SQL, ['', 'TEE', 'TEE', 'TEE', 50], /device_id>\?/],
    [
      'kiosks by prefix, limit as a literal',
      literalLimit(KIOSK_PREFIX_LIST_SQL, 1),
      ['TEE-9', 'TEE', 'TEE', 'TEE'],
      /device_id>\?/,
    ],
    ['kiosk events of one kiosk', KIOSK_EVENTS_SQL, ['K-1'], /device_id=\?/],
  ])('should seek an index, never scan or sort: %s', (_name, sql, params, seek) => {
    const plan = explainQueryPlan(store.db, sql, params);
    expect(planProblems(plan)).toEqual([]);
    expect(plan.join(' ')).toMatch(/^SEARCH /);
    expect(plan.join(' ')).toMatch(seek);
  });
});

function literalLimit(sql: string, limit: number): string {
  return sql.replace(/LIMIT \?$/, `LIMIT ${limit}`);
}
