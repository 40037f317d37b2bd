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
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const PAYLOAD_KEYS = ['deviceId', 'geo', 'packetId', 'siteId', 'timestamp', 'type', 'workerId'];
const GEO_KEYS = ['accuracyM', 'lat', 'lng'];

export type PacketShape =
  { ok: true; payload: AttendancePayload; at: Date } | { ok: false; detail: string };

/**
 * Checks a packet's shape without trusting it: exact keys, a lowercase UUID packetId, a UTC
 * ISO-8601 timestamp that names a real instant, finite coordinates and a lowercase hex
 * signature. Nothing is normalized: the payload is kept exactly as it was signed.
 */
export function checkPacketShape(packet: SignedPacket): PacketShape {
  const p = packet.payload as Record<string, unknown> | null;
  if (!p || typeof p !== 'object' || Array.isArray(p)) return bad('payload must be an object');
  if (!sameKeys(p, PAYLOAD_KEYS))
    return bad(`payload must have exactly: ${PAYLOAD_KEYS.join(', ')}`);
  if (typeof p.packetId !== 'string' || !PACKET_ID_PATTERN.test(p.packetId))
    return bad('packetId must be a lowercase UUID');
  for (const key of ['workerId', 'siteId', 'deviceId'] as const) {
    if (typeof p[key] !== 'string' || !ID_PATTERN.test(p[key])) return bad(`${key} is invalid`);
  }
  if (p.type !== 'check_in' && p.type !== 'check_out')
    return bad('type must be check_in or check_out');
  if (typeof p.timestamp !== 'string' || !UTC_TIMESTAMP_PATTERN.test(p.timestamp))
    return bad('timestamp must be ISO-8601 UTC (…Z)');
  const at = new Date(p.timestamp);
  if (Number.isNaN(at.getTime()) || at.toISOString().slice(0, 19) !== p.timestamp.slice(0, 19))
    return bad('timestamp is not a real instant');
  const geo = p.geo as Record<string, unknown> | null;
  if (!geo || typeof geo !== 'object' || Array.isArray(geo) || !sameKeys(geo, GEO_KEYS))
    return bad('geo must be {lat, lng, accuracyM}');
  if (!inRange(geo.lat, -90, 90) || !inRange(geo.lng, -180, 180))
    return bad('geo coordinates are out of range');
  if (!inRange(geo.accuracyM, 0, 100_000)) return bad('geo.accuracyM is out of range');
  if (typeof packet.signature !== 'string' || !SHA256_HEX_PATTERN.test(packet.signature))
    return bad('signature must be 64 lowercase hex characters');
  return { ok: true, payload: p as unknown as AttendancePayload, at };
}

function bad(detail: string): PacketShape {
  return { ok: false, detail };
}

function sameKeys(value: Record<string, unknown>, keys: string[]): boolean {
  const own = Object.keys(value).sort();
  return own.length === keys.length && own.every((k, i) => k === keys[i]);
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
