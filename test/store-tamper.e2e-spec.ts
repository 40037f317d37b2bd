import Database from 'better-sqlite3';
import { join } from 'node:path';
import { http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';
import { jpegBytes } from './support/image-bytes';

/**
 * Rows a database operator (or a damaged page) left malformed: every route answers a clear
 * error or names the damaged record, never a 5xx (docs/architecture.md, "Damaged rows").
 */

function withDb<T>(t: TestApp, work: (db: Database.Database) => T): T {
  const db = new Database(join(t.dataDir, 'mdai.sqlite'));
  try {
    return work(db);
  } finally {
    db.close();
  }
}

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
      withDb(t, (db) => db.prepare("UPDATE vault_audit SET at = 'soon' WHERE seq = 1").run());
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
});
