import { checkPacketShape } from './attendance-packet';

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
