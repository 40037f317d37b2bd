import { jpegBytes } from './image-bytes';
import { http, TestApp } from './test-app';

/** An admin's upload of a JPEG to the vault (`bytes`: a 500-byte one unless given). */
export function uploadImage(t: TestApp, bytes: Buffer = jpegBytes(500)) {
  return http(t.baseUrl, 'POST', '/api/v5/vault', {
    key: t.keys.admin,
    rawBody: bytes,
    headers: { 'content-type': 'image/jpeg' },
  });
}

/** An auditor's read of a file: its status and error code (the body is read to the end). */
export async function auditorRead(t: TestApp, fileId: string) {
  const res = await fetch(`${t.baseUrl}/api/v5/vault/${fileId}`, {
    headers: { 'x-api-key': t.keys.auditor, 'x-access-purpose': 'case review' },
  });
  const body = Buffer.from(await res.arrayBuffer());
  const code =
    res.status === 200 ? undefined : (JSON.parse(body.toString('utf8')) as { code: string }).code;
  return { status: res.status, code };
}

/** The vault audit log's verify answer (auditor key); expects a 200. */
export async function verifyAudit(t: TestApp) {
  const res = await http(t.baseUrl, 'GET', '/api/v5/vault/audit/verify', { key: t.keys.auditor });
  expect(res.status).toBe(200);
  return res.body;
}
