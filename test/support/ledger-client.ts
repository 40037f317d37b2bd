import { http, TestApp } from './test-app';

/** The site ledger's verify answer (auditor key unless another is given); expects a 200. */
export async function verifyLedger(t: TestApp, siteId: string, key = t.keys.auditor) {
  const res = await http(t.baseUrl, 'GET', `/api/v5/ledger/${siteId}/verify`, { key });
  expect(res.status).toBe(200);
  return res.body;
}
