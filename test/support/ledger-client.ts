import { http, TestApp } from './test-app';
import { Phone, signPacket, syncBatch } from './worker-client';

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
