import { MongoStore, Store } from '@app/persistence';
import { withStoreFile } from './support/tamper';
import { gauge, http, pollUntil, startTestApp, TestApp } from './support/test-app';
import { uploadImage, verifyAudit } from './support/vault-client';

/**
 * A sealed vault audit record changed in the database was found only by GET
 * /api/v5/vault/audit/verify: /health and the gauges said nothing until someone asked. The
 * audit watch walks verify's check a bounded number of records per run (two here, every 50
 * ms: a pass spans runs) and names the record on /health (`vault.tamperedAudit`, still 200)
 * and in mdai_vault_audit_tampered, with no request; once the record is put back a pass clears
 * it. On the suite's store (SQLite: a second connection to the server's file; MongoDB: the
 * server's database written directly). The poll's bound is generous, not a timing.
 */
describe('vault: the audit watch (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ VAULT_AUDIT_CHECK_MS: '50', VAULT_AUDIT_CHECK_RECORDS: '2' });
  });
  afterAll(async () => t.close());

  const health = async () => {
    const res = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    return { status: res.status, vault: res.body.details.vault };
  };

  /** Sets the record's purpose as a database writer would (no key); returns the one it had. */
  async function setPurpose(seq: number, purpose: string): Promise<string> {
    if (t.config.database.driver === 'sqlite') {
      return withStoreFile(t, (db) => {
        const { purpose: was } = db
          .prepare('SELECT purpose FROM vault_audit WHERE seq = ?')
          .get(seq) as { purpose: string };
        db.prepare('UPDATE vault_audit SET purpose = ? WHERE seq = ?').run(purpose, seq);
        return was;
      });
    }
    const audit = t.app.get<Store, MongoStore>(Store).connection.collection('vault_audit');
    const doc = await audit.findOne({ seq });
    await audit.updateOne({ seq }, { $set: { purpose } });
    return String(doc?.purpose);
  }

  /** Deletes the log's last record as a database writer would; returns a function putting it back. */
  async function deleteLast(): Promise<{ seq: number; putBack: () => Promise<void> }> {
    if (t.config.database.driver === 'sqlite') {
      const row = withStoreFile(
        t,
        (db) =>
          db.prepare('SELECT * FROM vault_audit ORDER BY seq DESC LIMIT 1').get() as Record<
            string,
            unknown
          >,
      );
      withStoreFile(t, (db) => db.prepare('DELETE FROM vault_audit WHERE seq = ?').run(row.seq));
      const columns = Object.keys(row);
      const putBack = async () =>
        withStoreFile(t, (db) => {
          db.prepare(
            `INSERT INTO vault_audit (${columns.join(', ')}) VALUES (${columns.map((c) => '@' + c).join(', ')})`,
          ).run(row);
        });
      return { seq: Number(row.seq), putBack };
    }
    const audit = t.app.get<Store, MongoStore>(Store).connection.collection('vault_audit');
    const [doc] = await audit.find().sort({ seq: -1 }).limit(1).toArray();
    await audit.deleteOne({ _id: doc._id });
    return { seq: Number(doc.seq), putBack: async () => void (await audit.insertOne(doc)) };
  }

  /**
   * Rewrites the root of the audit log's newest checkpoint row and deletes the two rows below
   * it, as a database writer would: the newest row does not verify, and the largest one that
   * does lies three records below it (more than a run's two). Returns the newest row's size and
   * a function putting the rows back.
   */
  async function breakNewestCheckpoint(): Promise<{ size: number; putBack: () => Promise<void> }> {
    if (t.config.database.driver === 'sqlite') {
      const logId = "(SELECT id FROM tlog_logs WHERE origin LIKE '%/vault-audit')";
      const rows = withStoreFile(
        t,
        (db) =>
          db
            .prepare(
              `SELECT * FROM tlog_checkpoints WHERE log_id = ${logId} ORDER BY size DESC LIMIT 3`,
            )
            .all() as Record<string, unknown>[],
      );
      const [newest, ...below] = rows;
      withStoreFile(t, (db) => {
        db.prepare('UPDATE tlog_checkpoints SET root_hash = ? WHERE log_id = ? AND size = ?').run(
          'ab'.repeat(32),
          newest.log_id,
          newest.size,
        );
        for (const row of below)
          db.prepare('DELETE FROM tlog_checkpoints WHERE log_id = ? AND size = ?').run(
            row.log_id,
            row.size,
          );
      });
      const columns = Object.keys(newest);
      const putBack = async () =>
        withStoreFile(t, (db) => {
          db.prepare('UPDATE tlog_checkpoints SET root_hash = ? WHERE log_id = ? AND size = ?').run(
            newest.root_hash,
            newest.log_id,
            newest.size,
          );
          for (const row of below)
            db.prepare(
              `INSERT INTO tlog_checkpoints (${columns.join(', ')}) VALUES (${columns.map((c) => '@' + c).join(', ')})`,
            ).run(row);
        });
      return { size: Number(newest.size), putBack };
    }
    const checkpoints = t.app
      .get<Store, MongoStore>(Store)
      .connection.collection('tlog_checkpoints');
    const [newest, ...below] = await checkpoints
      .find({ origin: /\/vault-audit$/ })
      .sort({ size: -1 })
      .limit(3)
      .toArray();
    await checkpoints.updateOne({ _id: newest._id }, { $set: { rootHash: 'ab'.repeat(32) } });
    await checkpoints.deleteMany({ _id: { $in: below.map((row) => row._id) } });
    const putBack = async () => {
      await checkpoints.updateOne({ _id: newest._id }, { $set: { rootHash: newest.rootHash } });
      await checkpoints.insertMany(below);
    };
    return { size: Number(newest.size), putBack };
  }

  it('should name a sealed audit record changed in the database on /health and in the gauge, with no request, and clear once it is put back', async () => {
    for (let i = 0; i < 4; i++) expect((await uploadImage(t)).status).toBe(201);
    expect(await health()).toEqual({ status: 200, vault: { status: 'up' } });
    expect(await gauge(t.baseUrl, 'mdai_vault_audit_tampered')).toBe(0);

    const was = await setPurpose(3, 'nothing to see');
    const found = await pollUntil(health, (h) => h.vault.tamperedAudit !== undefined, 30_000);
    expect(found).toEqual({
      status: 200,
      vault: {
        status: 'up',
        tamperedAudit: { seq: 3, reason: 'record_hash_mismatch', since: expect.any(String) },
        message: expect.stringContaining('sealed vault audit record'),
      },
    });
    expect(await gauge(t.baseUrl, 'mdai_vault_audit_tampered')).toBe(1);
    // the record verify names
    expect(await verifyAudit(t)).toMatchObject({ ok: false, brokenAtSeq: 3 });
    // logged once, by seq and reason, nothing of the record
    const logs = t.logs().split('\n');
    const lines = logs.filter((l) => l.includes('Sealed vault audit record fails its check'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"seq":3');
    expect(lines[0]).not.toContain('nothing to see');

    await setPurpose(3, was);
    const cleared = await pollUntil(health, (h) => h.vault.tamperedAudit === undefined, 30_000);
    expect(cleared).toEqual({ status: 200, vault: { status: 'up' } });
    expect(await gauge(t.baseUrl, 'mdai_vault_audit_tampered')).toBe(0);
  });

  it('should name the sealed records deleted from the end of the log (their checkpoints kept) on /health, and clear once they are put back', async () => {
    for (let i = 0; i < 2; i++) expect((await uploadImage(t)).status).toBe(201);
    expect(await health()).toEqual({ status: 200, vault: { status: 'up' } });

    const last = await deleteLast();
    const found = await pollUntil(health, (h) => h.vault.tamperedAudit !== undefined, 30_000);
    expect(found).toEqual({
      status: 200,
      vault: {
        status: 'up',
        tamperedAudit: { seq: last.seq, reason: 'tail_cut', since: expect.any(String) },
        message: expect.stringContaining('sealed vault audit record'),
      },
    });
    expect(await gauge(t.baseUrl, 'mdai_vault_audit_tampered')).toBe(1);
    expect(await verifyAudit(t)).toMatchObject({ ok: false, brokenAtSeq: last.seq });

    await last.putBack();
    const cleared = await pollUntil(health, (h) => h.vault.tamperedAudit === undefined, 30_000);
    expect(cleared).toEqual({ status: 200, vault: { status: 'up' } });
  });

  it('should name the newest checkpoint row changed in the database on /health and in the gauge (the pass walks on to it, not starting over below it), and clear once it is put back', async () => {
    for (let i = 0; i < 3; i++) expect((await uploadImage(t)).status).toBe(201);
    expect((await health()).vault).toEqual({ status: 'up' });

    // the walk reads on past the largest row that verifies to the newest: a pass that measured
    // the log's shrinking against the former started over at every run, never reaching it
    const newest = await breakNewestCheckpoint();
    const found = await pollUntil(health, (h) => h.vault.tamperedAudit !== undefined, 30_000);
    expect(found.vault).toEqual({
      status: 'up',
      tamperedAudit: { seq: newest.size, reason: 'checkpoint_mismatch', since: expect.any(String) },
      message: expect.stringContaining('sealed vault audit record'),
    });
    expect(await gauge(t.baseUrl, 'mdai_vault_audit_tampered')).toBe(1);
    // verify reads the witness file too: its lines name the deleted rows first
    expect(await verifyAudit(t)).toMatchObject({
      ok: false,
      brokenAtSeq: newest.size - 2,
      reason: 'checkpoint_missing',
    });

    await newest.putBack();
    const cleared = await pollUntil(health, (h) => h.vault.tamperedAudit === undefined, 30_000);
    expect(cleared).toEqual({ status: 200, vault: { status: 'up' } });
    expect(await gauge(t.baseUrl, 'mdai_vault_audit_tampered')).toBe(0);
  });
});
