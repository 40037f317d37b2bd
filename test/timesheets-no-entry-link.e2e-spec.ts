import { randomUUID } from 'node:crypto';
import { LedgerService, PendingLogEntry } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { restartApp } from './support/tamper';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

const DAY = '2026-03-02';
const at = (hour: number) => new Date(Date.parse(`${DAY}T00:00:00.000Z`) + hour * 3_600_000);

/**
 * Review L4: a ledger link that projects no timesheet entry (a link of another kind) left the
 * count of a site's stored entries short of their highest seq for good, so every start took it
 * for a hole and re-read the site's whole chain. A start now looks at the seqs the count
 * misses and, when each is a link that projects no entry, takes the read model as whole. On
 * the suite store (SQLite file or MongoDB).
 */
describe('timesheet read model: a link that projects no entry (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  const timesheets = (siteId: string) =>
    http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/timesheets?from=${DAY}&to=${DAY}`, {
      key: t.keys.admin,
    });

  /** Reads the site and says whether its chain was read again from its start. */
  async function rereads(siteId: string): Promise<boolean> {
    const reads = jest.spyOn(t.app.get(LedgerService), 'readAuthenticatedChain');
    try {
      const res = await timesheets(siteId);
      expect([res.status, res.body.days?.[0]?.workedSeconds]).toEqual([200, 8 * 3600]);
      return reads.mock.calls.some(([site, after]) => site === siteId && after === 0);
    } finally {
      reads.mockRestore();
    }
  }

  it('should not re-read the chain at a start for a link that projects no entry', async () => {
    const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'UTC');
    const worker = 'c'.repeat(24);
    const punch = (type: 'check_in' | 'check_out', hour: number) =>
      punchEntry({ siteId, workerId: worker, type, timestamp: at(hour).toISOString() });
    const packetId = randomUUID();
    // a link of a kind timesheets ignore, between the two punches (seq 2)
    const other = {
      siteId,
      packetId,
      data: { kind: 'site_note', packetId, siteId, note: 'gate closed at noon' },
      meta: { isOfflineSync: false, syncTimestamp: at(9).toISOString() },
    } as unknown as PendingLogEntry;
    const ledger = t.app.get(LedgerService);
    await ledger.append([punch('check_in', 8)]);
    await ledger.append([other]);
    await ledger.append([punch('check_out', 16)]);
    expect(await ledger.headSeq(siteId)).toBe(3);
    await rereads(siteId);

    t = await restartApp(t);
    expect(await rereads(siteId)).toBe(false);
    // and again at the next start
    t = await restartApp(t);
    expect(await rereads(siteId)).toBe(false);
  });
});
