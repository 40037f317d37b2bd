// by their own paths, not `@app/common`: the packet checks also run in worker threads
// (`packet-check.worker.ts`), which load only what they run
import { SHA256_HEX_PATTERN } from '@app/common/crypto/hashing';
import { UTC_TIMESTAMP_PATTERN } from '@app/common/time/timestamp-patterns';

/** What a worker phone signs (RFC 8785 JCS, HMAC-SHA256 with the device secret). */
export interface AttendancePayload {
  packetId: string;
  workerId: string;
  siteId: string;
  deviceId: string;
  type: 'check_in' | 'check_out';
  /** ISO-8601 UTC, kept exactly as signed. */
  timestamp: string;
  geo: { lat: number; lng: number; accuracyM: number };
}

export interface SignedPacket {
  payload: unknown;
  signature: string;
}

export const PACKET_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** workerId, siteId and deviceId: 1 to 64 ASCII letters, digits, `_` or `-`. */
export const PACKET_REF_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** The payload's members, exactly these (in JCS order). */
export const PAYLOAD_KEYS = [
  'deviceId',
  'geo',
  'packetId',
  'siteId',
  'timestamp',
  'type',
  'workerId',
] as const;
/** `geo`'s members, exactly these (in JCS order). */
export const GEO_KEYS = ['accuracyM', 'lat', 'lng'] as const;
export const PACKET_TYPES = ['check_in', 'check_out'] as const;
/** Inclusive ranges of the geo numbers (finite JSON numbers; strings are refused). */
export const GEO_RANGES = {
  lat: { min: -90, max: 90 },
  lng: { min: -180, max: 180 },
  accuracyM: { min: 0, max: 100_000 },
} as const;
/** The signature: lowercase hex of the 32-byte HMAC-SHA256. */
export const PACKET_SIGNATURE_PATTERN = SHA256_HEX_PATTERN;
export { UTC_TIMESTAMP_PATTERN };

export type PacketShape =
  { ok: true; payload: AttendancePayload; at: Date } | { ok: false; detail: string };

/**
 * Checks a packet's shape without trusting it: exact keys, a lowercase UUID packetId, a UTC
 * ISO-8601 timestamp that names a real instant, finite coordinates and a lowercase hex
 * signature. Nothing is normalized: the payload is kept exactly as it was signed. A refusal's
 * `detail` says what is wrong in words a phone developer can act on, without echoing a value
 * (it goes back to the sender in the packet's result and into the fraud event).
 */
export function checkPacketShape(packet: SignedPacket): PacketShape {
  const p = packet.payload as Record<string, unknown> | null;
  if (!p || typeof p !== 'object' || Array.isArray(p)) return bad('payload must be an object');
  if (!sameKeys(p, PAYLOAD_KEYS))
    return bad(`payload must have exactly these members: ${PAYLOAD_KEYS.join(', ')}`);
  if (typeof p.packetId !== 'string' || !PACKET_ID_PATTERN.test(p.packetId))
    return bad('packetId must be a lowercase UUID (8-4-4-4-12 hex digits, a-f 0-9)');
  for (const key of ['workerId', 'siteId', 'deviceId'] as const) {
    if (typeof p[key] !== 'string' || !PACKET_REF_ID_PATTERN.test(p[key]))
      return bad(`${key} must be a string of 1 to 64 characters A-Z a-z 0-9 _ -`);
  }
  if (p.type !== 'check_in' && p.type !== 'check_out')
    return bad(`type must be ${PACKET_TYPES.join(' or ')}`);
  if (typeof p.timestamp !== 'string' || !UTC_TIMESTAMP_PATTERN.test(p.timestamp))
    return bad(
      'timestamp must be ISO-8601 UTC ending in Z, YYYY-MM-DDTHH:MM:SS with 0 to 3 fraction digits (no offset such as +00:00)',
    );
  const at = new Date(p.timestamp);
  if (Number.isNaN(at.getTime()) || at.toISOString().slice(0, 19) !== p.timestamp.slice(0, 19))
    return bad('timestamp is not a real instant (no such date or time)');
  const geo = p.geo as Record<string, unknown> | null;
  if (!geo || typeof geo !== 'object' || Array.isArray(geo) || !sameKeys(geo, GEO_KEYS))
    return bad(`geo must be an object with exactly these members: ${GEO_KEYS.join(', ')}`);
  for (const key of ['lat', 'lng', 'accuracyM'] as const) {
    const { min, max } = GEO_RANGES[key];
    if (!inRange(geo[key], min, max))
      return bad(`geo.${key} must be a number from ${min} to ${max}`);
  }
  if (typeof packet.signature !== 'string' || !PACKET_SIGNATURE_PATTERN.test(packet.signature))
    return bad('signature must be 64 lowercase hex characters');
  return { ok: true, payload: p as unknown as AttendancePayload, at };
}

function bad(detail: string): PacketShape {
  return { ok: false, detail };
}

/**
 * Whether `value`'s own keys are exactly `keys` (distinct names), in any order: as many, each
 * one of them (an object's own keys are distinct too). Not by sorting a copy of the keys: that
 * was ~1 µs a packet of the packet checks.
 */
function sameKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  if (own.length !== keys.length) return false;
  for (let i = 0; i < own.length; i++) if (!keys.includes(own[i])) return false;
  return true;
}

function inRange(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
}

/** JCS(payload), which the HMAC covers, and JCS({...payload, signature}), which the ledger stores. */
export interface CheckedPacketJcs {
  payloadJcs: string;
  dataJcs: string;
}

/**
 * The two JCS texts of a packet that passed `checkPacketShape`, written member by member in
 * JCS order (deviceId, geo {accuracyM, lat, lng}, packetId, [signature,] siteId, timestamp,
 * type, workerId) rather than by the generic serializer, which sorts the keys of every object
 * again for each packet. The shape check is what makes this exact: those are the only keys,
 * every string matches a pattern of ASCII letters, digits and `-_:.` (nothing JSON escapes, so
 * its JCS form is the text in quotes), and every number is finite (JCS writes it as
 * JSON.stringify does, which for a finite number is `String(n)`). Only for checked packets.
 */
export function checkedPacketJcs(payload: AttendancePayload, signature: string): CheckedPacketJcs {
  const { geo } = payload;
  const head = `{"deviceId":"${payload.deviceId}","geo":{"accuracyM":${geo.accuracyM},"lat":${geo.lat},"lng":${geo.lng}},"packetId":"${payload.packetId}",`;
  const tail = `"siteId":"${payload.siteId}","timestamp":"${payload.timestamp}","type":"${payload.type}","workerId":"${payload.workerId}"}`;
  return { payloadJcs: head + tail, dataJcs: `${head}"signature":"${signature}",${tail}` };
}
