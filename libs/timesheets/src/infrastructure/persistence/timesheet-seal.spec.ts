import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseStoreMacKey, StoreMac } from '@app/tlog';
import { timesheetPunch } from '../../testing/timesheet-punch';
import { TimesheetSeal } from './timesheet-seal';

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
