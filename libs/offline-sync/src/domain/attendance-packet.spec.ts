import { createHash, randomUUID } from 'node:crypto';
import { jcs } from '@app/common';
import { pickWith, seededRandom } from '@app/common/testing/seeded-random';
import { checkedPacketJcs, checkPacketShape } from './attendance-packet';

const payload = {
  packetId: '3b241101-e2bb-4255-8caf-4136c566a962',
  workerId: '665f1c2e8b3e4a0012345678',
  siteId: '665f1c2e8b3e4a0012345679',
  deviceId: '665f1c2e8b3e4a001234567a',
  type: 'check_in',
  timestamp: '2026-01-01T08:00:00.123Z',
  geo: { lat: 28.6, lng: 77.2, accuracyM: 10 },
};
const signature = 'ab'.repeat(32);

describe('checkPacketShape', () => {
  it('should accept a well-formed packet and keep the payload untouched', () => {
    const sut = checkPacketShape({ payload, signature });
    expect(sut).toEqual({ ok: true, payload, at: new Date(payload.timestamp) });
  });

  it.each([
    ['an extra field', { ...payload, extra: 1 }],
    ['an uppercase packetId', { ...payload, packetId: payload.packetId.toUpperCase() }],
    ['a non-UTC timestamp', { ...payload, timestamp: '2026-01-01T08:00:00+05:30' }],
    ['an impossible date', { ...payload, timestamp: '2026-02-30T08:00:00Z' }],
    ['an unknown type', { ...payload, type: 'break' }],
    ['a latitude out of range', { ...payload, geo: { lat: 91, lng: 0, accuracyM: 1 } }],
    ['a missing accuracy', { ...payload, geo: { lat: 1, lng: 1 } }],
  ])('should refuse %s', (_, bad) => {
    expect(checkPacketShape({ payload: bad, signature }).ok).toBe(false);
  });

  it('should refuse as many members as asked when one of them is another, naming the members', () => {
    const renamed = Object.fromEntries(
      Object.entries(payload).map(([k, v]) => [k === 'deviceId' ? 'deviceID' : k, v]),
    );
    expect(checkPacketShape({ payload: renamed, signature })).toEqual({
      ok: false,
      detail: expect.stringContaining('payload must have exactly these members') as string,
    });
    const geo = { ...payload, geo: { lat: 1, lng: 1, accuracy: 1 } };
    expect(checkPacketShape({ payload: geo, signature })).toEqual({
      ok: false,
      detail: expect.stringContaining('geo must be an object with exactly these members') as string,
    });
  });

  it('should refuse a signature that is not 64 lowercase hex characters', () => {
    expect(checkPacketShape({ payload, signature: 'AB'.repeat(32) }).ok).toBe(false);
    expect(checkPacketShape({ payload, signature: 'ab' }).ok).toBe(false);
  });
});

describe('checkedPacketJcs', () => {
  it('should give exactly the generic JCS of the payload and of it with its signature, for any checked packet', () => {
    const random = seededRandom(2026);
    const pick = pickWith(random);
    // ids at the edges of their pattern, and names that sort where members do
    const ids = ['a', 'Z-9_x', 'x'.repeat(64), 'siteId', 'signature', '0', '-', '_', 'zzzz'];
    const numbers = [0, -0, 1e-7, 5e-324, -5e-324, 90, -90, 180, -180, 100_000, 1.00001, 0.1 + 0.2];
    const coordinate = (limit: number) =>
      random() < 0.3
        ? pick(numbers.filter((n) => Math.abs(n) <= limit))
        : (random() - 0.5) * 2 * limit;
    let checked = 0;
    for (let i = 0; i < 5000; i++) {
      const at = new Date(Math.floor(random() * 4e12)).toISOString();
      const p = {
        packetId: randomUUID(),
        workerId: pick(ids),
        siteId: pick(ids),
        deviceId: pick(ids),
        type: pick(['check_in', 'check_out']),
        // every form the pattern admits: no fraction, or one to three digits of it
        timestamp: pick([at, `${at.slice(0, 19)}Z`, `${at.slice(0, 21)}Z`, `${at.slice(0, 22)}Z`]),
        geo: {
          lat: coordinate(90),
          lng: coordinate(180),
          accuracyM: random() < 0.3 ? pick(numbers.filter((n) => n >= 0)) : random() * 1e5,
        },
      };
      // the members in another order than JCS's, as a phone may send them
      const sent = random() < 0.5 ? p : Object.fromEntries(Object.entries(p).reverse());
      const sig = createHash('sha256').update(String(i)).digest('hex');
      const shape = checkPacketShape({ payload: sent, signature: sig });
      if (!shape.ok) continue;
      checked++;
      expect(checkedPacketJcs(shape.payload, sig)).toEqual({
        payloadJcs: jcs(sent),
        dataJcs: jcs({ ...sent, signature: sig }),
      });
    }
    expect(checked).toBeGreaterThan(4500);
  });
});
