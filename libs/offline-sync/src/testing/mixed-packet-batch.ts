import { createHmac, randomUUID } from 'node:crypto';
import { jcs } from '@app/common';
import { SignedPacket } from '../domain/attendance-packet';

/** The packet signature: HMAC-SHA256 of the payload's JCS under the device secret, hex. */
export function signWith(secret: Buffer, payload: unknown): string {
  return createHmac('sha256', secret).update(jcs(payload)).digest('hex');
}

/**
 * A batch signed under `secret` with every kind of packet the checks tell apart (valid, a
 * signature over another payload, an extra field, an impossible date, an upper-case
 * signature, a latitude out of range, no payload, an array payload, another device's), in a
 * shuffled order. For specs that compare the checks on a thread with the request's thread.
 */
export function mixedPacketBatch(size: number, secret: Buffer): SignedPacket[] {
  const sign = (payload: unknown) => signWith(secret, payload);
  const kinds = [
    (p: Record<string, unknown>) => ({ payload: p, signature: sign(p) }),
    (p: Record<string, unknown>) => ({ payload: p, signature: sign({ ...p, type: 'check_out' }) }),
    (p: Record<string, unknown>) => ({ payload: { ...p, extra: 1 }, signature: sign(p) }),
    (p: Record<string, unknown>) => ({
      payload: { ...p, timestamp: '2026-02-30T08:00:00Z' },
      signature: sign(p),
    }),
    (p: Record<string, unknown>) => ({ payload: p, signature: sign(p).toUpperCase() }),
    (p: Record<string, unknown>) => ({
      payload: { ...p, geo: { lat: 91, lng: 0, accuracyM: 1 } },
      signature: sign(p),
    }),
    () => ({ payload: null, signature: 'ab'.repeat(32) }),
    (p: Record<string, unknown>) => ({ payload: [p], signature: sign(p) }),
    (p: Record<string, unknown>) => ({
      payload: { ...p, deviceId: 'another-device' },
      signature: sign({ ...p, deviceId: 'another-device' }),
    }),
  ];
  return Array.from({ length: size }, (_, i) => {
    const payload = {
      packetId: randomUUID(),
      workerId: 'worker-1',
      siteId: 'site-1',
      deviceId: 'device-1',
      type: i % 2 === 0 ? 'check_in' : 'check_out',
      timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000 + (i % 7)).toISOString(),
      geo: { lat: 28.6 + i / 1e5, lng: 77.2, accuracyM: i % 50 },
    };
    return kinds[(i * 5) % kinds.length](payload);
  });
}
