import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseStoreMacKey, StoreMac } from '@app/tlog';
import { timesheetPunch } from '../../testing/timesheet-punch';
import { PaddedHmac } from './padded-hmac';
import { TimesheetSeal } from './timesheet-seal';

describe('PaddedHmac', () => {
  it("should give createHmac('sha256')'s tag for keys and texts of every length, UTF-8 and long ones included", () => {
    for (const keyLength of [0, 1, 32, 63, 64]) {
      const key = randomBytes(keyLength);
      const hmac = new PaddedHmac(key);
      const texts = ['', 'a', '["S",1,"w1"]', 'é☃😀\u2028', 'x'.repeat(63), 'y'.repeat(5000), 'z'];
      for (const text of texts) {
        expect(hmac.mac(text)).toBe(createHmac('sha256', key).update(text).digest('base64url'));
        expect(hmac.matches(text, hmac.mac(text))).toBe(true);
        expect(hmac.matches(text + ' ', hmac.mac(text))).toBe(false);
      }
    }
  });

  it('should refuse a key longer than a block (HMAC hashes those first)', () => {
    expect(() => new PaddedHmac(randomBytes(65))).toThrow();
  });
});

describe("TimesheetSeal's entry tags", () => {
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  const old = parseStoreMacKey('K', randomBytes(32).toString('base64'));
  const now = parseStoreMacKey('K', randomBytes(32).toString('base64'));
  const mac = new StoreMac({ signingKey, storeMacKey: now, storeMacRetiredKeys: [old] });
  const seal = new TimesheetSeal(mac);
  const entry = { ...timesheetPunch(7), packetId: 'pkt-é' };
  const data = JSON.stringify([
    entry.siteId,
    entry.seq,
    entry.workerId,
    entry.packetId,
    entry.kind,
    entry.punchType ?? null,
    null,
    null,
    entry.at ?? null,
    entry.effectiveAt ?? null,
    entry.voided,
    entry.correctedBy,
    entry.lowTrust,
    null,
  ]);

  it("should be StoreMac's tag of the entry's columns, and verify as StoreMac verifies", () => {
    expect(seal.entryTag(entry)).toBe(mac.mac('timesheet-entry', data));
    expect(seal.entryOk(entry, seal.entryTag(entry))).toBe(true);
    // a row tagged under the retired key still verifies; a changed row or tag does not
    const retired = new StoreMac({ signingKey, storeMacKey: old });
    expect(seal.entryOk(entry, retired.mac('timesheet-entry', data))).toBe(true);
    expect(seal.entryOk({ ...entry, voided: true }, seal.entryTag(entry))).toBe(false);
    const tag = seal.entryTag(entry);
    expect(seal.entryOk(entry, `${tag.slice(0, -1)}${tag.endsWith('A') ? 'B' : 'A'}`)).toBe(false);
    expect(seal.entryOk(entry, undefined)).toBe(false);
    expect(seal.entryOk(entry, tag.slice(1))).toBe(false);
  });
});
