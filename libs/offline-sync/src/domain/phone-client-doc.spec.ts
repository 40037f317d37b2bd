import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jcs } from '@app/common';
import { checkedPacketJcs, checkPacketShape } from './attendance-packet';
import { checkPackets } from './packet-check';

/** docs/phone-client.md's worked example, read from the doc itself. */
function example(): { secret: string; payload: unknown; jcs: string; signature: string } {
  const doc = readFileSync(join(__dirname, '../../../../docs/phone-client.md'), 'utf8');
  const block = (name: string): string => {
    const match = new RegExp(
      `<!-- example:${name} -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\``,
    ).exec(doc);
    if (!match) throw new Error(`docs/phone-client.md has no example:${name} block`);
    return match[1];
  };
  return {
    secret: block('secret').trim(),
    payload: JSON.parse(block('payload')),
    jcs: block('jcs').trim(),
    signature: block('signature').trim(),
  };
}

describe("docs/phone-client.md's worked example", () => {
  it("should verify with the server's own packet check", () => {
    const ex = example();
    const secret = Buffer.from(ex.secret, 'base64');
    expect(secret).toHaveLength(32);
    const [check] = checkPackets([{ payload: ex.payload, signature: ex.signature }], secret);
    expect(check).toMatchObject({ ok: true, signatureValid: true });
  });

  it('should show the JCS text the server signs over', () => {
    const ex = example();
    const shape = checkPacketShape({ payload: ex.payload, signature: ex.signature });
    if (!shape.ok) throw new Error(shape.detail);
    expect(checkedPacketJcs(shape.payload, ex.signature).payloadJcs).toBe(ex.jcs);
    expect(jcs(ex.payload)).toBe(ex.jcs);
  });
});
