import { createHash, randomBytes } from 'node:crypto';
import type { DemoFlow } from './flows';

async function codeOf(response: Response): Promise<string> {
  return ((await response.json()) as { code: string }).code;
}

/** Stores a fake face image, reads it back with a purpose, shows the refusals and the audit. */
export const vaultFlow: DemoFlow = {
  name: 'vault',
  title: 'Vault: encrypted biometric storage with audited access',
  run: async (ctx) => {
    // a tiny JPEG-looking payload: SOI marker, random bytes, EOI marker
    const image = Buffer.concat([
      Buffer.from([0xff, 0xd8, 0xff]),
      randomBytes(150_000),
      Buffer.from([0xff, 0xd9]),
    ]);
    const stored = await fetch(`${ctx.baseUrl}/api/v5/vault`, {
      method: 'POST',
      headers: { 'x-api-key': ctx.keys.admin, 'content-type': 'image/jpeg' },
      body: image,
    });
    const file = (await stored.json()) as { fileId: string; size: number; sha256: string };
    ctx.say(
      `POST /api/v5/vault (admin, ${image.length} bytes image/jpeg) → ${stored.status} ${JSON.stringify(file)}`,
    );
    ctx.expect(stored.status === 201, 'the admin to store an image');

    const read = (key: string, purpose?: string) =>
      fetch(`${ctx.baseUrl}/api/v5/vault/${file.fileId}`, {
        headers: { 'x-api-key': key, ...(purpose ? { 'x-access-purpose': purpose } : {}) },
      });
    const ok = await read(ctx.keys.auditor, 'demo: fraud case review');
    const bytes = Buffer.from(await ok.arrayBuffer());
    const same = createHash('sha256').update(bytes).digest('hex') === file.sha256;
    ctx.say(
      `GET /api/v5/vault/:id (auditor, x-access-purpose set) → ${ok.status} ${ok.headers.get('content-type')}, ${bytes.length} bytes, identical: ${same}`,
    );
    ctx.expect(ok.status === 200 && same, 'the auditor to read the original bytes');

    const noPurpose = await read(ctx.keys.auditor);
    ctx.say(`… without x-access-purpose → ${noPurpose.status} ${await codeOf(noPurpose)}`);
    const mobile = await read(ctx.keys.mobile, 'curious');
    ctx.say(`… with a mobile key → ${mobile.status} ${await codeOf(mobile)}`);

    const audit = await ctx.call('GET', `/api/v5/vault/audit?fileId=${file.fileId}`, {
      key: ctx.keys.auditor,
    });
    ctx.say(
      `GET /api/v5/vault/audit?fileId=… (auditor) → ${audit.status}, ${audit.body.length} records:`,
    );
    for (const r of audit.body as Array<Record<string, string>>) {
      ctx.say(
        `   ${r.action} by ${r.role} → ${r.result}${r.reason ? ` (${r.reason})` : ''}, purpose "${r.purpose}"`,
      );
    }
    const verify = await ctx.call('GET', '/api/v5/vault/audit/verify', { key: ctx.keys.auditor });
    ctx.say(`GET /api/v5/vault/audit/verify → ${JSON.stringify(verify.body)}`);

    const deleted = await ctx.call('DELETE', `/api/v5/vault/${file.fileId}`, {
      key: ctx.keys.admin,
      headers: { 'x-access-purpose': 'demo: erasure request' },
    });
    ctx.say(`DELETE /api/v5/vault/:id (admin) → ${deleted.status} (data key destroyed)`);
    const after = await read(ctx.keys.auditor, 'demo: check erasure');
    ctx.say(`GET after delete → ${after.status} ${await codeOf(after)}`);
    ctx.expect(after.status === 410, 'a deleted file to be gone');
  },
};
