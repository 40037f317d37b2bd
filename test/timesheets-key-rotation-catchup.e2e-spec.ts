import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { ManualClock } from '@app/common';
import { LedgerService } from '@app/offline-sync';
import { LINK_KEY_WAIT_MS } from '@app/offline-sync/link-key-waits';
import { AttendanceLogRepository } from '@app/offline-sync/infrastructure/persistence/attendance-log.repository';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { SealRefusals, TransparencyLogService } from '@app/tlog';
import { http, startTestApp, TestApp } from './support/test-app';
import { recordWorkersOf } from './support/ledger-workers';
import { createSite } from './support/timesheet-client';

const DAY = '2026-03-02';
const at = (hour: number) => `${DAY}T${String(hour).padStart(2, '0')}:00:00.000Z`;

/**
 * Review LV #9: two replicas on one store during a one-step rotation of STORE_MAC_KEY (one
 * restarted on the new key, the other still on the old one; since review M-2 a rotation of the
 * log signing key changes no tag). A link the restarted replica appended and has not sealed yet
 * carries a store MAC under a key the old replica does not know: its catch-up waits for the
 * seal instead of refusing the site (`/health` 503, appends 503 until its next append found it
 * sealed). The restarted replica holds the key it retired and checks the old one's links.
 */
describe('timesheet catch-up during a rolling key rotation (e2e)', () => {
  let dataDir: string;
  let old: TestApp | undefined;
  let rotated: TestApp | undefined;
  const env = () => ({ DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' });

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-rotation-catchup-'));
  });
  afterEach(async () => {
    await rotated?.close();
    await old?.close();
    rotated = old = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A punch appended by `t`'s store alone: tagged under its key, not sealed (its seal to come). */
  const appendUnsealed = async (
    t: TestApp,
    siteId: string,
    type: 'check_in' | 'check_out',
    hour: number,
  ) => {
    const entry = punchEntry({ siteId, workerId: WORKER, type, timestamp: at(hour) });
    await recordWorkersOf(t.app, [entry]);
    return t.app.get(AttendanceLogRepository).appendToChains([entry]);
  };
  /** `t`'s seal of the site's chain up to `size` (what its append does after the write). */
  const sealOn = async (t: TestApp, siteId: string, size: number) => {
    const logs = t.app.get(AttendanceLogRepository);
    await t.app
      .get(TransparencyLogService)
      .seal(
        t.app.get(LedgerService).originOf(siteId),
        size,
        (from, to) => logs.readRecordHashes(siteId, from, to),
        [],
      );
  };
  const worked = async (t: TestApp, siteId: string) => {
    const res = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/payroll?from=${DAY}&to=${DAY}`,
      {
        key: t.keys.auditor,
      },
    );
    expect([res.status, res.body?.code]).toEqual([200, undefined]);
    const workers = (res.body as { workers: Array<{ workerId: string; workedSeconds: number }> })
      .workers;
    return workers.find((w) => w.workerId === WORKER)?.workedSeconds ?? 0;
  };
  const refusedSites = (t: TestApp) =>
    t.app
      .get(SealRefusals)
      .list()
      .map((r) => r.siteId);

  it("should pay at once another replica's unsealed link tagged under the key this replica retired (it holds it)", async () => {
    old = await startTestApp(env());
    const { siteId } = await createSite(old.baseUrl, old.keys.admin, 'UTC');
    await appendUnsealed(old, siteId, 'check_in', 8);
    await sealOn(old, siteId, 1);
    // the operator rotates the store-MAC key and restarts one replica; the other runs on the old
    rotateLocalKeys(dataDir, ['mac'], new Date(), 3600);
    rotated = await startTestApp(env());
    expect(rotated.app.get(LedgerService)).not.toBe(old.app.get(LedgerService));

    // the old replica appends; its seal is still to come when the new one reads the site, whose
    // STORE_MAC_RETIRED_KEYS holds the old key: the link checks out and is paid at once
    await appendUnsealed(old, siteId, 'check_out', 16);
    expect(await worked(rotated, siteId)).toBe(8 * 3600);
    expect(refusedSites(rotated)).toEqual([]);
    expect((await http(rotated.baseUrl, 'GET', '/health')).status).toBe(200);
    expect(rotated.logs()).not.toContain('read models wait for its seal');

    await sealOn(old, siteId, 2);
    expect(await worked(rotated, siteId)).toBe(8 * 3600);
    expect((await http(rotated.baseUrl, 'GET', '/health')).status).toBe(200);
  });

  it('should wait for a link tagged under a newer key this replica does not know yet', async () => {
    old = await startTestApp(env());
    const { siteId } = await createSite(old.baseUrl, old.keys.admin, 'UTC');
    await appendUnsealed(old, siteId, 'check_in', 8);
    await sealOn(old, siteId, 1);
    rotateLocalKeys(dataDir, ['mac'], new Date(), 3600);
    rotated = await startTestApp(env());

    // the restarted replica appends; the old one reads the site before its seal
    await appendUnsealed(rotated, siteId, 'check_out', 16);
    expect(await worked(old, siteId)).toBe(0);
    expect(refusedSites(old)).toEqual([]);
    expect((await http(old.baseUrl, 'GET', '/health')).status).toBe(200);
    expect(old.logs()).toContain('read models wait for its seal');
    expect(old.logs()).not.toContain('appends to this site are refused');

    // sealed by its replica: the old one takes it through the checkpoint's proof and pays it
    await sealOn(rotated, siteId, 2);
    expect(await worked(old, siteId)).toBe(8 * 3600);
    expect((await http(old.baseUrl, 'GET', '/health')).status).toBe(200);
  });

  /** The site's stored link at `seq` written again with `column` set to `value` (a database writer). */
  const rewrite = async (
    t: TestApp,
    siteId: string,
    seq: number,
    column: string,
    value: unknown,
  ) => {
    const store = t.app.get(Store);
    if (store instanceof MongoStore) {
      await store.connection
        .db!.collection('attendance_logs')
        .updateOne(
          { siteId, seq },
          value === null ? { $unset: { [column]: '' } } : { $set: { [column]: value } },
        );
      return;
    }
    const db = (store as SqliteStore).db;
    const row = db
      .prepare('SELECT * FROM attendance_logs WHERE site_id = ? AND seq = ?')
      .get(siteId, seq) as Record<string, unknown>;
    const columns = Object.keys(row);
    db.prepare(
      `INSERT OR REPLACE INTO attendance_logs (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
    ).run(...columns.map((c) => (c === column ? value : row[c])));
  };

  it("should refuse a newer key's link once the wait is over on the ledger's clock, a rewrite of its tag not starting it again (review M3)", async () => {
    const clock = new ManualClock();
    old = await startTestApp(env(), { clock });
    const { siteId } = await createSite(old.baseUrl, old.keys.admin, 'UTC');
    await appendUnsealed(old, siteId, 'check_in', 8);
    await sealOn(old, siteId, 1);
    rotateLocalKeys(dataDir, ['mac'], new Date(), 3600);
    rotated = await startTestApp(env());

    await appendUnsealed(rotated, siteId, 'check_out', 16);
    expect(await worked(old, siteId)).toBe(0);
    expect(refusedSites(old)).toEqual([]);
    // its tag rewritten (another MAC under the same unknown key id): the wait goes on
    clock.advance(LINK_KEY_WAIT_MS - 1000);
    await rewrite(rotated, siteId, 2, 'mac', 'B'.repeat(43));
    expect(await worked(old, siteId)).toBe(0);
    expect(refusedSites(old)).toEqual([]);
    // never sealed: refused once the wait is over
    clock.advance(2000);
    expect(await worked(old, siteId)).toBe(0);
    expect(refusedSites(old)).toEqual([siteId]);
  });

  it('should refuse at once an unsealed link whose tag names no key id', async () => {
    old = await startTestApp(env());
    const { siteId } = await createSite(old.baseUrl, old.keys.admin, 'UTC');
    await appendUnsealed(old, siteId, 'check_in', 8);
    await sealOn(old, siteId, 1);
    await appendUnsealed(old, siteId, 'check_out', 16);
    await rewrite(
      old,
      siteId,
      2,
      old.app.get(Store) instanceof MongoStore ? 'macKid' : 'mac_kid',
      null,
    );
    expect(await worked(old, siteId)).toBe(0);
    expect(refusedSites(old)).toEqual([siteId]);
  });

  it("should still refuse at once a link whose tag names this replica's key and does not verify", async () => {
    old = await startTestApp(env());
    const { siteId } = await createSite(old.baseUrl, old.keys.admin, 'UTC');
    await appendUnsealed(old, siteId, 'check_in', 8);
    await sealOn(old, siteId, 1);
    rotateLocalKeys(dataDir, ['mac'], new Date(), 3600);
    rotated = await startTestApp(env());

    // a link of the new key's id whose MAC is not the new key's: a forgery, not a rotation
    await appendUnsealed(rotated, siteId, 'check_out', 16);
    const forged = 'A'.repeat(43);
    const store = rotated.app.get(Store);
    if (store instanceof MongoStore) {
      await store.connection
        .db!.collection('attendance_logs')
        .updateOne({ siteId, seq: 2 }, { $set: { mac: forged } });
    } else {
      // the table takes no UPDATE: the row written again whole (as a database writer can)
      const db = (store as SqliteStore).db;
      const row = db
        .prepare('SELECT * FROM attendance_logs WHERE site_id = ? AND seq = 2')
        .get(siteId) as Record<string, unknown>;
      const columns = Object.keys(row);
      db.prepare(
        `INSERT OR REPLACE INTO attendance_logs (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
      ).run(...columns.map((c) => (c === 'mac' ? forged : row[c])));
    }
    expect(await worked(rotated, siteId)).toBe(0);
    expect(refusedSites(rotated)).toEqual([siteId]);
    expect((await http(rotated.baseUrl, 'GET', '/health')).status).toBe(503);
  });
});
const WORKER = 'a'.repeat(24);
