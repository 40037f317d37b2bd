import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import {
  explainQueryPlan,
  literalLimitPlans,
  planProblems,
} from '@app/persistence/testing/query-plan';
import { sqliteSealedPageSql } from '@app/vault/keyring/sealed-values';
import {
  SqliteWorkerDeviceRepository,
  WORKER_DEVICE_EVENTS_SQL,
  WORKER_DEVICE_LAST_EVENT_SQL,
  WORKER_DEVICE_LIST_SQL,
  WORKER_DEVICE_NEWEST_EVENT_SQL,
  WORKER_DEVICE_OF_WORKER_LIST_SQL,
} from './sqlite-worker-device.repository';

/**
 * GET /api/v5/devices (all, or one worker's), a device's events and its latest unblock (the
 * trust floor's, on a sync that would block it): each page (first or after a cursor) seeks an
 * index, so any page costs the same and a walk through all pages is linear.
 */
describe('SQLite worker-device listings query plans', () => {
  let dir: string;
  let store: SqliteStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-device-plan-'));
    store = new SqliteStore(join(dir, 'plan.sqlite'));
    new SqliteWorkerDeviceRepository(store); // applies the migrations
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['worker devices, first page', WORKER_DEVICE_LIST_SQL, ['', 50], /device_id>\?/],
    ['worker devices, after a cursor', WORKER_DEVICE_LIST_SQL, ['D-500000', 50], /device_id>\?/],
    ['events of one worker device', WORKER_DEVICE_EVENTS_SQL, ['D-1'], /device_id=\?/],
    [
      "one worker's devices, first page",
      WORKER_DEVICE_OF_WORKER_LIST_SQL,
      ['W-1', '', 50],
      /worker_devices_user_device \(user_id=\? AND device_id>\?\)/,
    ],
    [
      "one worker's devices, after a cursor",
      WORKER_DEVICE_OF_WORKER_LIST_SQL,
      ['W-1', 'D-500000', 50],
      /worker_devices_user_device \(user_id=\? AND device_id>\?\)/,
    ],
  ])('should seek an index, never scan or sort: %s', (_name, sql, params, seek) => {
    const plan = explainQueryPlan(store.db, sql, params);
    expect(planProblems(plan)).toEqual([]);
    expect(plan.join(' ')).toMatch(/^SEARCH /);
    expect(plan.join(' ')).toMatch(seek);
  });

  it("should read a device's events of an action newest first along their index range", () => {
    const plan = explainQueryPlan(store.db, WORKER_DEVICE_LAST_EVENT_SQL, ['D-1', 'unblocked']);
    expect(planProblems(plan)).toEqual([]);
    // the (device, action, at) range read from its end (newest first, read until one the server
    // vouches for): no other action's events, no sort
    expect(plan).toEqual([
      'SEARCH worker_device_events USING INDEX worker_device_events_device_action (device_id=? AND action=?)',
    ]);
  });

  it("should read a device's newest event (its state's check) by one seek, no sort", () => {
    const plan = explainQueryPlan(store.db, WORKER_DEVICE_NEWEST_EVENT_SQL, ['D-1']);
    expect(planProblems(plan)).toEqual([]);
    expect(plan).toEqual([
      'SEARCH worker_device_events USING INDEX worker_device_events_device_written (device_id=?)',
    ]);
  });

  it('should walk the sealed secrets for a reseal along the device_id key (limit written in)', () => {
    const sql = sqliteSealedPageSql('worker_devices', 'device_id', 'sealed_secret');
    for (const plan of literalLimitPlans(store.db, sql, [11, 'sealed1.v2.', 'D-500000'])) {
      expect(planProblems(plan)).toEqual([]);
      expect(plan.join(' ')).toMatch(/^SEARCH worker_devices .*device_id>\?/);
    }
  });
});
