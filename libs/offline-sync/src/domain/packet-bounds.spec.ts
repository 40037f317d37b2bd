import { checkPacketShape } from './attendance-packet';
import { largestPacketJsonBytes, PACKET_JSON_KEYS } from './packet-bounds';

describe('largestPacketJsonBytes', () => {
  /** The largest packet the sync takes as well formed, as a phone's JSON.stringify writes it. */
  const largest = {
    payload: {
      deviceId: 'D'.repeat(64),
      // the longest a double within GEO_RANGES prints as (17 significant digits, no exponent)
      geo: {
        accuracyM: 0.0000012345678901234567,
        lat: -0.0000012345678901234567,
        lng: -0.0000010000000000000002,
      },
      packetId: '3b241101-e2bb-4255-8caf-4136c566a962',
      siteId: 'S'.repeat(64),
      timestamp: '2026-03-01T09:30:00.123Z',
      type: 'check_out',
      workerId: 'W'.repeat(64),
    },
    signature: 'a'.repeat(64),
  };

  it('should be the bytes of the largest well-formed packet as compact JSON, with its comma', () => {
    expect(checkPacketShape(largest)).toMatchObject({ ok: true });
    const text = JSON.stringify(largest);
    expect(JSON.stringify(largest.payload.geo.lat)).toHaveLength(25);
    expect(largestPacketJsonBytes()).toBe(Buffer.byteLength(text) + 1);
  });

  it('should count every object member of a packet', () => {
    let members = 0;
    const count = (value: unknown): void => {
      if (value === null || typeof value !== 'object') return;
      for (const inner of Object.values(value)) {
        members += 1;
        count(inner);
      }
    };
    count(largest);
    expect(PACKET_JSON_KEYS).toBe(members);
  });
});
