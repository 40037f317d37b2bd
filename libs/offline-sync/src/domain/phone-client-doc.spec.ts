import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jcs, ManualClock } from '@app/common';
import {
  generateOfflineTokenKey,
  offlineTokenConfig,
  SigningKeyService,
  TokenManager,
} from '@app/device-trust';
import { checkedPacketJcs, checkPacketShape } from './attendance-packet';
import { checkPackets } from './packet-check';

const DOC = join(__dirname, '../../../../docs/phone-client.md');

/** An `<!-- example:name -->` block of docs/phone-client.md. */
function block(name: string): string {
  const doc = readFileSync(DOC, 'utf8');
  const match = new RegExp(`<!-- example:${name} -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\``).exec(
    doc,
  );
  if (!match) throw new Error(`docs/phone-client.md has no example:${name} block`);
  return match[1];
}

/** docs/phone-client.md's worked example, read from the doc itself. */
function example(): { secret: string; payload: unknown; jcs: string; signature: string } {
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

describe("docs/phone-client.md's offline token claims", () => {
  const decode = (part: string): Record<string, unknown> =>
    JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

  /** The claims table under `<!-- token-claims -->`: each claim's name and type. */
  function claimsTable(): [string, string][] {
    const doc = readFileSync(DOC, 'utf8');
    const start = doc.indexOf('<!-- token-claims -->\n');
    if (start < 0) throw new Error('docs/phone-client.md has no token-claims table');
    const rows = doc
      .slice(start)
      .split('\n')
      .slice(1)
      .filter((line, i, lines) => lines.slice(0, i + 1).every((l) => l.startsWith('|')));
    return rows.slice(2).map((row) => {
      const [, name, type] = row.split('|').map((cell) => cell.trim());
      return [/^`(\w+)`$/.exec(name)?.[1] ?? name, type];
    });
  }

  it('should show the claims and the payload of a token as the server issues it', () => {
    const ex = JSON.parse(block('token-payload')) as Record<string, unknown> & {
      deviceId: string;
      workerId: string;
      siteIds: string[];
      iat: number;
      exp: number;
    };
    // the default lifetime (OFFLINE_TOKEN_TTL_DAYS unset: 30 days), as the doc's example has it
    const config = offlineTokenConfig.read({
      OFFLINE_TOKEN_PRIVATE_KEY: generateOfflineTokenKey(),
    });
    const tokens = new TokenManager(new SigningKeyService(config), config, new ManualClock());
    const issued = tokens.issue(
      { deviceId: ex.deviceId, workerId: ex.workerId, siteIds: ex.siteIds },
      new Date(ex.iat * 1000),
    );
    const [header, payload] = issued.token.split('.').slice(0, 2).map(decode);
    // the same claims in the same order, the same values but for the token's own id
    expect(Object.keys(payload)).toEqual(Object.keys(ex));
    expect(payload).toEqual({ ...ex, jti: payload.jti });
    expect(ex.jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Date(ex.exp * 1000)).toEqual(issued.claims.expiresAt);
    expect(Object.keys(header)).toEqual(['alg', 'typ', 'kid']);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT' });

    // the table names every claim, in order, with its JSON type
    const table = claimsTable();
    expect(table.map(([name]) => name)).toEqual(Object.keys(payload));
    for (const [name, type] of table) {
      const value = payload[name];
      if (type === 'array of strings') {
        expect(Array.isArray(value) && value.every((v) => typeof v === 'string')).toBe(true);
      } else {
        expect([name, typeof value]).toEqual([name, type]);
      }
    }
  });

  it("should list the register answer's members, and the refresh answer's, neither with a workerId", () => {
    const openapi = JSON.parse(
      readFileSync(join(__dirname, '../../../../docs/openapi.json'), 'utf8'),
    ) as { components: { schemas: Record<string, { properties: Record<string, unknown> }> } };
    const members = (schema: string) =>
      Object.keys(openapi.components.schemas[schema].properties).sort();
    const doc = readFileSync(DOC, 'utf8');
    const registration = doc.slice(doc.indexOf('## 1. '), doc.indexOf('## 2. '));
    // each bullet of section 1 names members before its first colon
    const bullets = registration
      .split('\n')
      .filter((line) => line.startsWith('- `'))
      .flatMap((line) =>
        [...line.slice(0, line.indexOf(':')).matchAll(/`(\w+)`/g)].map((m) => m[1]),
      );
    expect(bullets.sort()).toEqual(members('RegisterWorkerDeviceResponse'));
    const refresh = /holds no `workerId` either:\s*([^)]*)\)/.exec(registration);
    expect(refresh).not.toBeNull();
    expect([...refresh![1].matchAll(/`(\w+)`/g)].map((m) => m[1]).sort()).toEqual(
      members('RefreshOfflineTokenResponse'),
    );
    expect(members('RegisterWorkerDeviceResponse')).not.toContain('workerId');
    expect(members('RefreshOfflineTokenResponse')).not.toContain('workerId');
    expect(registration).toContain('**The answer has no `workerId`**');
  });
});
