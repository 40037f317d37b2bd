import {
  GEO_KEYS,
  GEO_RANGES,
  PACKET_REF_ID_PATTERN,
  PACKET_TYPES,
  PAYLOAD_KEYS,
} from './attendance-packet';

/**
 * The longest text a geo number within its GEO_RANGES takes as JSON, an encoder printing a
 * double the shortest way that reads back (JavaScript's, Swift's, Kotlin's): 17 significant
 * digits, a point and up to 5 zeros after it (JavaScript prints 1e-7 and above without an
 * exponent): `0.0000012345678901234567`, and a sign where the range goes below 0.
 */
function geoNumberChars(key: (typeof GEO_KEYS)[number]): number {
  return 24 + (GEO_RANGES[key].min < 0 ? 1 : 0);
}

/** The most characters a workerId, siteId or deviceId has (`PACKET_REF_ID_PATTERN`). */
const REF_ID_CHARS = Number(/\{1,(\d+)\}/.exec(PACKET_REF_ID_PATTERN.source)![1]);

/**
 * The bytes the largest well-formed packet takes in a sync body's `packets` array, written as
 * compact JSON (as phones send it: `JSON.stringify`, no spaces), with the comma after it:
 * 64-character ids, the longest type, a timestamp with milliseconds, geo numbers of
 * `geoNumberChars`, the 64-hex signature. Its members are JSON strings of ASCII, so the
 * characters are the bytes.
 */
export function largestPacketJsonBytes(): number {
  const ref = 'x'.repeat(REF_ID_CHARS);
  const values: Record<string, string> = {
    packetId: JSON.stringify('00000000-0000-0000-0000-000000000000'),
    workerId: JSON.stringify(ref),
    siteId: JSON.stringify(ref),
    deviceId: JSON.stringify(ref),
    type: JSON.stringify([...PACKET_TYPES].sort((a, b) => b.length - a.length)[0]),
    timestamp: JSON.stringify('2026-03-01T09:30:00.000Z'),
    geo: `{${GEO_KEYS.map((key) => `"${key}":${'9'.repeat(geoNumberChars(key))}`).join(',')}}`,
  };
  const payload = `{${PAYLOAD_KEYS.map((key) => `"${key}":${values[key]}`).join(',')}}`;
  return `{"payload":${payload},"signature":"${'0'.repeat(64)}"},`.length;
}

/** The object members one packet counts toward JSON_MAX_KEYS: its own, its payload's, geo's. */
export const PACKET_JSON_KEYS = 2 + PAYLOAD_KEYS.length + GEO_KEYS.length;

/** `{"packets":[` … `]}` around the packets, and the body's one member name. */
export const SYNC_BODY_ENVELOPE = { bytes: '{"packets":[]}'.length, keys: 1 };
