import { randomBytes } from 'node:crypto';
import { StoreMac } from '@app/tlog';
import { auditTagText, chainEntry } from '@app/vault/domain/vault-audit-record';
import { VaultAuditRepository } from '@app/vault/infrastructure/persistence/vault-audit.repository';
import { jpegBytes } from './support/image-bytes';
import { http, startTestApp, TestApp } from './support/test-app';

/**
 * Review audittag2 #8: the prev-link check of a record past the last checkpoint on its own. The
 * record is one the server wrote (its tag holds over its seq and recordHash, its fields hash to
 * that recordHash) but in another history of the chain: its prevHash is not the recordHash of
 * the record before it (a record put back from a copy of the log, or moved). Only the prev-link
 * check refuses it; a seal over it would sign a chain that does not link. On the suite's store.
 */
describe('vault audit: a tagged record that does not link to the one before it (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  it('should refuse to seal it (503 audit_unavailable, /health names prev_hash_mismatch)', async () => {
    const uploaded = await http(t.baseUrl, 'POST', '/api/v5/vault', {
      key: t.keys.admin,
      rawBody: jpegBytes(500),
      headers: { 'content-type': 'image/jpeg' },
    });
    expect(uploaded.status).toBe(201);
    const fileId = uploaded.body.fileId as string;
    const read = async () => {
      const res = await fetch(`${t.baseUrl}/api/v5/vault/${fileId}`, {
        headers: { 'x-api-key': t.keys.auditor, 'x-access-purpose': 'case review' },
      });
      const body = Buffer.from(await res.arrayBuffer());
      return res.status === 200
        ? { status: 200 }
        : { status: res.status, code: JSON.parse(body.toString('utf8')).code as string };
    };
    expect(await read()).toEqual({ status: 200 });

    // at the head's next seq, hashed and tagged as the server does, but chained to another hash
    const mac = t.app.get(StoreMac, { strict: false });
    const otherHistory = randomBytes(32).toString('hex');
    const moved = await t.app.get(VaultAuditRepository, { strict: false }).appendToChain(
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
          { seq: head!.seq, hash: otherHistory },
        ),
      (r) => ({ mac: mac.mac('vault-audit', auditTagText(r.seq, r.recordHash)), kid: mac.kid }),
    );
    expect(moved.prevHash).toBe(otherHistory);

    // the seal of the next access refuses it, and the check of the tail keeps refusing it
    expect(await read()).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(await read()).toEqual({ status: 503, code: 'audit_unavailable' });
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(503);
    expect(health.body.error.logs.unauthenticatedEntries).toEqual([
      { log: 'vault-audit', seq: moved.seq, reason: 'prev_hash_mismatch' },
    ]);
    const checkpoint = await http(t.baseUrl, 'GET', '/api/v5/vault/audit/checkpoint', {
      key: t.keys.auditor,
    });
    expect(checkpoint.body.treeSize).toBe(moved.seq - 1);
  });
});
