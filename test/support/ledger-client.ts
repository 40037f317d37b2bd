import type Database from 'better-sqlite3';
import { http, TestApp } from './test-app';
import { canonicalJson, Phone, sha256Hex, signPacket, syncBatch } from './worker-client';

/** The site ledger's verify answer (auditor key unless another is given); expects a 200. */
export async function verifyLedger(t: TestApp, siteId: string, key = t.keys.auditor) {
  const res = await http(t.baseUrl, 'GET', `/api/v5/ledger/${siteId}/verify`, { key });
  expect(res.status).toBe(200);
  return res.body;
}

/** Syncs `batches` batches of `per` fresh packets, each wholly accepted; returns every answer's body. */
export async function fill(t: TestApp, phone: Phone, batches: number, per: number): Promise<any[]> {
  const bodies: any[] = [];
  for (let b = 0; b < batches; b++) {
    const res = await syncBatch(
      t.baseUrl,
      phone.token,
      Array.from({ length: per }, () => signPacket(phone)),
    );
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(per);
    bodies.push(res.body);
  }
  return bodies;
}

/**
 * What a dishonest operator with the SQLite file can do: edit the links of a site from `fromSeq`
 * on (`edit` returns a link's new data) and re-hash them into a consistent chain, the
 * append-only trigger lifted for it and put back. Only the checkpoints can tell.
 */
export function rewriteChain(
  db: Database.Database,
  siteId: string,
  fromSeq: number,
  edit: (data: Record<string, any>, seq: number) => Record<string, any>,
): void {
  db.exec('DROP TRIGGER IF EXISTS attendance_logs_append_only_update');
  const rows = db
    .prepare('SELECT * FROM attendance_logs WHERE site_id = ? AND seq >= ? ORDER BY seq')
    .all(siteId, fromSeq) as any[];
  let prev = rows[0].prev_hash as string;
  for (const row of rows) {
    const data = edit(JSON.parse(row.data), row.seq);
    const meta = JSON.parse(row.meta);
    const hash = sha256Hex(
      canonicalJson({ siteId: row.site_id, seq: row.seq, prevHash: prev, data, meta }),
    );
    db.prepare(
      'UPDATE attendance_logs SET data = ?, prev_hash = ?, record_hash = ? WHERE site_id = ? AND seq = ?',
    ).run(canonicalJson(data), prev, hash, row.site_id, row.seq);
    prev = hash;
  }
  db.exec(`CREATE TRIGGER attendance_logs_append_only_update BEFORE UPDATE ON attendance_logs
    BEGIN SELECT RAISE(ABORT, 'attendance_logs is append-only'); END`);
}
