import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ManualClock } from '@app/common';
import { MongoStore, Store } from '@app/persistence';
import { StoreMac } from '@app/tlog';
import { auditTagText, chainEntry } from '@app/vault/domain/vault-audit-record';
import { VaultAuditRepository } from '@app/vault/infrastructure/persistence/vault-audit.repository';
import { jpegBytes } from './support/image-bytes';
import { http, startTestApp, TestApp } from './support/test-app';

/** The server's own records appended past the last checkpoint before the untagged one. */
const OWN_UNSEALED = 60;

/**
 * A refused vault audit (a record past the last checkpoint the server did not write) answers
 * 503 from what it checked: the unsealed tail is read again only at a bounded rate (by the
 * injected clock) or when the failing record or the last checkpoint changed, not by each
 * request (review audittag2 #6); a record repaired in the store still opens the vault by
 * itself. On the store the suite runs on.
 */
describe('vault audit: a refusal answered without reading the tail each time (e2e)', () => {
  let t: TestApp;
  const clock = new ManualClock(new Date().toISOString());
  let records: VaultAuditRepository;
  let mac: StoreMac;
  let fileId: string;
  let forged: number;
  /** Records the store's tagged reads returned since the spy was set. */
  let rowsRead = 0;

  const read = async () => {
    const res = await fetch(`${t.baseUrl}/api/v5/vault/${fileId}`, {
      headers: { 'x-api-key': t.keys.auditor, 'x-access-purpose': 'case review' },
    });
    const body = Buffer.from(await res.arrayBuffer());
    return res.status === 200
      ? { status: 200 }
      : { status: res.status, code: (JSON.parse(body.toString('utf8')) as { code: string }).code };
  };

  /** The store's own append, tagged as the server tags (`tagged`) or not: no seal after it. */
  const appendUnsealed = (tagged: boolean) =>
    records.appendToChain(
      (head) =>
        chainEntry(
          {
            id: randomBytes(12).toString('hex'),
            fileId,
            actor: 'auditor:000000000000',
            role: 'auditor',
            ip: '127.0.0.1',
            purpose: 'case review',
            action: 'read',
            result: 'allowed',
            at: new Date(),
          },
          head,
        ),
      tagged
        ? (r) => ({ mac: mac.mac('vault-audit', auditTagText(r.seq, r.recordHash)), kid: mac.kid })
        : undefined,
    );

  /** Writes the server's tag onto the stored record `seq` (an operator putting it back). */
  async function tagInStore(seq: number): Promise<void> {
    const [row] = await records.readTagged(seq, seq);
    const tag = mac.mac('vault-audit', auditTagText(seq, row.record.recordHash));
    if (t.config.database.driver === 'sqlite') {
      const db = new Database(join(t.dataDir, 'mdai.sqlite'));
      try {
        db.prepare('UPDATE vault_audit SET mac = ?, mac_kid = ? WHERE seq = ?').run(
          tag,
          mac.kid,
          seq,
        );
      } finally {
        db.close();
      }
      return;
    }
    const result = await t.app
      .get<Store, MongoStore>(Store)
      .connection.collection('vault_audit')
      .updateOne({ seq }, { $set: { mac: tag, macKid: mac.kid } });
    expect(result.modifiedCount).toBe(1);
  }

  beforeAll(async () => {
    t = await startTestApp({}, { clock });
    records = t.app.get(VaultAuditRepository, { strict: false });
    mac = t.app.get(StoreMac, { strict: false });
    const uploaded = await http(t.baseUrl, 'POST', '/api/v5/vault', {
      key: t.keys.admin,
      rawBody: jpegBytes(500),
      headers: { 'content-type': 'image/jpeg' },
    });
    expect(uploaded.status).toBe(201);
    fileId = uploaded.body.fileId;
    for (let i = 0; i < OWN_UNSEALED; i++) await appendUnsealed(true);
    forged = (await appendUnsealed(false)).seq;
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await t.close();
  });

  it('should refuse from what it checked, reading the tail again only when the clock allows it', async () => {
    // the seal refused; then the first refused request checks the whole tail and remembers it
    expect(await read()).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(await read()).toEqual({ status: 503, code: 'audit_unavailable' });
    const readTagged = records.readTagged.bind(records);
    jest.spyOn(records, 'readTagged').mockImplementation(async (from, to) => {
      const rows = await readTagged(from, to);
      rowsRead += rows.length;
      return rows;
    });
    for (let i = 0; i < 5; i++) {
      expect(await read()).toEqual({ status: 503, code: 'audit_unavailable' });
    }
    // each one read the failing record and the one before it, not the tail of 60 before it
    expect(rowsRead).toBe(5 * 2);
    // once the bound has passed, the next request reads the whole tail again
    clock.advance(60_000);
    rowsRead = 0;
    expect(await read()).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(rowsRead).toBeGreaterThan(OWN_UNSEALED);
    rowsRead = 0;
    expect(await read()).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(rowsRead).toBe(2);
  });

  it('should open the vault at once when the failing record is repaired in the store (the clock still)', async () => {
    await tagInStore(forged);
    // the repair is seen by the next request, not after the bound: the tail is read again
    expect(await read()).toEqual({ status: 200 });
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
  });

  it('should stay refused when only the remembered one of two forged records is repaired (the clock still)', async () => {
    const first = (await appendUnsealed(false)).seq;
    const second = (await appendUnsealed(false)).seq;
    // the seal refuses; the next request checks the tail and remembers the first forged record
    expect(await read()).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(await read()).toEqual({ status: 503, code: 'audit_unavailable' });
    await tagInStore(first);
    // the remembered record changed: the tail is read again, and finds the second
    expect(await read()).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(await read()).toEqual({ status: 503, code: 'audit_unavailable' });
    await tagInStore(second);
    expect(await read()).toEqual({ status: 200 });
  });

  it('should remember the record as the scan read it, not as repaired just after the scan (review LOW 2)', async () => {
    const forgedLate = (await appendUnsealed(false)).seq;
    // the seal refuses (no tail check remembered yet)
    expect(await read()).toEqual({ status: 503, code: 'audit_unavailable' });
    // the operator repairs the record right after the tail scan read it, before anything else
    // the store's own method (the one spied on above has an implementation of its own)
    const proto = Object.getPrototypeOf(records) as VaultAuditRepository;
    const readTagged = proto.readTagged.bind(records);
    let repaired = false;
    jest.spyOn(records, 'readTagged').mockImplementation(async (from, to) => {
      const rows = await readTagged(from, to);
      // the first read after the refusal is the tail scan
      if (!repaired && from <= forgedLate && to >= forgedLate) {
        repaired = true;
        await tagInStore(forgedLate);
      }
      return rows;
    });
    expect(await read()).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(repaired).toBe(true);
    // the clock still: what was remembered is the untagged record, which the store no longer
    // holds, so the next request reads the tail again and the vault opens
    expect(await read()).toEqual({ status: 200 });
  });
});
