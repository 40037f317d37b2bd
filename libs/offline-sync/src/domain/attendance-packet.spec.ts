import { randomUUID } from 'node:crypto';
import { jcs } from '@app/common';
import { checkPacketShape, packetDataJcs } from './attendance-packet';

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

  it('should refuse a signature that is not 64 lowercase hex characters', () => {
    expect(checkPacketShape({ payload, signature: 'AB'.repeat(32) }).ok).toBe(false);
    expect(checkPacketShape({ payload, signature: 'ab' }).ok).toBe(false);
  });
});

describe('packetDataJcs', () => {
  it('should give exactly JCS of the payload with its signature, for any checked packet', () => {
    const ids = ['a', 'Z-9_x', 'x'.repeat(64), 'siteId', '0'];
    for (let i = 0; i < 500; i++) {
      const pick = () => ids[Math.floor(Math.random() * ids.length)];
      const p = {
        packetId: randomUUID(),
        workerId: pick(),
        siteId: pick(),
        deviceId: pick(),
        type: i % 2 ? 'check_in' : 'check_out',
        timestamp: new Date(Math.floor(Math.random() * 4e12)).toISOString(),
        geo: {
          lat: (Math.random() - 0.5) * 180,
          lng: i % 7 === 0 ? -0 : (Math.random() - 0.5) * 360,
          accuracyM: i % 3 === 0 ? 1e-7 : Math.random() * 1e5,
        },
      };
      const sig = randomUUID().replace(/-/g, '').repeat(2);
      expect(checkPacketShape({ payload: p, signature: sig }).ok).toBe(true);
      expect(packetDataJcs(jcs(p), sig)).toBe(jcs({ ...p, signature: sig }));
    }
  });
});
