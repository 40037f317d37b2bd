import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { restartApp, withStoreFile } from './support/tamper';
import { http, itOnSqliteFile, pollUntil, startTestApp, TestApp } from './support/test-app';
import { jpegBytes } from './support/image-bytes';
import { createSite, phoneAt, punch, sync } from './support/timesheet-client';

/**
 * Rows a database operator (or a damaged page) left malformed: every route answers a clear
 * error or names the damaged record, never a 5xx (docs/architecture.md, "Damaged rows").
 */

describe('malformed stored rows (e2e)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp();
  });
  afterEach(async () => t.close());

  itOnSqliteFile(
    '(M4) should name a vault audit record whose time is not a date, and list it with a null time',
    async () => {
      const upload = await http(t.baseUrl, 'POST', '/api/v5/vault', {
        key: t.keys.admin,
        rawBody: jpegBytes(100),
        headers: { 'content-type': 'image/jpeg' },
      });
      expect(upload.status).toBe(201);
      withStoreFile(t, (db) =>
        db.prepare("UPDATE vault_audit SET at = 'soon' WHERE seq = 1").run(),
      );
      const verify = await http(t.baseUrl, 'GET', '/api/v5/vault/audit/verify', {
        key: t.keys.auditor,
      });
      expect(verify.status).toBe(200);
      expect(verify.body).toMatchObject({
        ok: false,
        reason: 'record_hash_mismatch',
        brokenAtSeq: 1,
      });
      const list = await http(t.baseUrl, 'GET', '/api/v5/vault/audit', { key: t.keys.auditor });
      expect(list.status).toBe(200);
      expect(list.body[0]).toMatchObject({ seq: 1, at: null, action: 'store' });
    },
  );

  itOnSqliteFile(
    '(L1) should work out again from the ledger a timesheet day that is not JSON, not answer a 500',
    async () => {
      const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'UTC');
      const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
      // a shift still open (punches before the phone's registration would be refused)
      const now = new Date().toISOString();
      const day = now.slice(0, 10);
      expect((await sync(t.baseUrl, phone, [punch(phone, 'check_in', now)])).accepted).toBe(1);
      const period = `from=${day}&to=${day}`;
      const get = (path: string) =>
        http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/${path}?${period}`, {
          key: t.keys.auditor,
        });
      const before = await pollUntil(
        () => get('timesheets'),
        (r) => r.body.days?.length === 1,
      );
      expect(before.body.days).toHaveLength(1);
      withStoreFile(t, (db) =>
        db.prepare("UPDATE timesheet_days SET body = '{' WHERE site_id = ?").run(siteId),
      );
      // its tag no longer verifies: the day is worked out again from the ledger's entries
      // (TimesheetProjector.readDays), never answered from the damaged row nor a 500
      for (const path of ['timesheets', 'payroll', 'timesheets.csv']) {
        const res = await get(path);
        expect([path, res.status]).toEqual([path, 200]);
      }
      const after = await get('timesheets');
      expect(after.body.days).toEqual(before.body.days);
    },
  );

  itOnSqliteFile(
    '(L1) should answer stored_record_invalid for a checkpoint whose signed time is not a date',
    async () => {
      const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'UTC');
      const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
      await sync(t.baseUrl, phone, [punch(phone, 'check_in', new Date().toISOString())]);
      withStoreFile(t, (db) =>
        db.prepare("UPDATE tlog_checkpoints SET signed_at = 'yesterday'").run(),
      );
      const res = await http(t.baseUrl, 'GET', `/api/v5/ledger/${siteId}/checkpoint`, {
        key: t.keys.auditor,
      });
      expect([res.status, res.body.code]).toEqual([500, 'stored_record_invalid']);
      expect(res.body.message).toContain(`ledger/${siteId}`);
    },
  );

  itOnSqliteFile(
    '(L1) should list the fraud events around one whose time is not a date, with a null time',
    async () => {
      withStoreFile(t, (db) =>
        db
          .prepare(
            `INSERT INTO fraud_events (id, type, device_id, worker_id, site_id, packet_id, detail, at)
             VALUES ('aaaaaaaaaaaaaaaaaaaaaaaa', 'outside_geofence', NULL, NULL, NULL, NULL, 'x', 'not a date')`,
          )
          .run(),
      );
      const res = await http(t.baseUrl, 'GET', '/api/v5/fraud/events', { key: t.keys.admin });
      expect(res.status).toBe(200);
      expect(JSON.stringify(res.body)).toContain('aaaaaaaaaaaaaaaaaaaaaaaa');
    },
  );
});

describe('a store rolled back behind the witness file (e2e)', () => {
  itOnSqliteFile(
    '(L2) should boot degraded, log_rolled_back naming the log, while reads are still served',
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'mdai-rollback-'));
      const copy = mkdtempSync(join(tmpdir(), 'mdai-rollback-copy-'));
      const env = { DATA_DIR: dataDir };
      const files = ['mdai.sqlite', 'mdai.sqlite-wal', 'mdai.sqlite-shm'];
      let t = await startTestApp(env);
      try {
        const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'UTC');
        const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
        await sync(t.baseUrl, phone, [punch(phone, 'check_in', new Date().toISOString())]);
        t = await restartApp(t, () => {
          for (const f of files)
            if (existsSync(join(dataDir, f))) copyFileSync(join(dataDir, f), join(copy, f));
        });
        await sync(t.baseUrl, phone, [punch(phone, 'check_out', new Date().toISOString())]);
        expect((await http(t.baseUrl, 'GET', '/health')).status).toBe(200);
        // the older copy put back; the witness file kept
        t = await restartApp(t, () => {
          for (const f of files) {
            rmSync(join(dataDir, f), { force: true });
            if (existsSync(join(copy, f))) copyFileSync(join(copy, f), join(dataDir, f));
          }
        });
        const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
        expect(health.status).toBe(503);
        expect(health.body.error.tlog).toMatchObject({
          state: 'degraded',
          reason: 'log_rolled_back',
          logs: [{ origin: `mdai.local/ledger/${siteId}`, witnessedSize: 2, storedSize: 1 }],
        });
        const metrics = await fetch(`${t.baseUrl}/metrics`).then((r) => r.text());
        expect(metrics).toMatch(/^mdai_tlog_logs_rolled_back 1$/m);
        const verify = await http(t.baseUrl, 'GET', `/api/v5/ledger/${siteId}/verify`, {
          key: t.keys.auditor,
        });
        expect([verify.status, verify.body.reason]).toEqual([200, 'tail_cut']);
      } finally {
        await t.close();
        rmSync(dataDir, { recursive: true, force: true });
        rmSync(copy, { recursive: true, force: true });
      }
    },
  );
});
