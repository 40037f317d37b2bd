import { CommonError, FieldError } from '@app/common';
import { SignedPacket } from '../domain/attendance-packet';
import { OfflineSyncError } from '../offline-sync.errors';

/** The body of `POST /api/v5/sync` once its envelope is checked (the packets are judged one by one). */
export interface SyncRequest {
  packets: SignedPacket[];
}

const MAX_SIGNATURE = 128;
const PACKET_KEYS = new Set(['payload', 'signature']);

/**
 * The checks `SyncRequestDto` declares (the global ValidationPipe's whitelist,
 * forbidNonWhitelisted and class-validator constraints), written out for the one body that
 * holds up to 500 packets: same 400 `validation_failed`, same fields and messages, without
 * class-transformer copying every payload and class-validator's metadata walk per packet.
 * `sync-request.check.spec.ts` holds it to the ValidationPipe's answers. One check more than
 * the DTO can state: a batch of more than `maxPackets` (SYNC_MAX_PACKETS) is a 413
 * `too_many_packets` naming that limit, before any packet is looked at.
 */
export function checkSyncRequest(body: unknown, maxPackets: number): SyncRequest {
  const errors: FieldError[] = [];
  // an array body's items are unknown properties "0", "1"… as the ValidationPipe sees them
  const top = isObjectLike(body) ? (body as Record<string, unknown>) : {};
  for (const key of Object.keys(top)) {
    if (key !== 'packets') errors.push(unknownProperty(key, key));
  }
  const packets = top.packets;
  if (packets === undefined || packets === null) {
    errors.push(required('packets', packets));
    throw invalid(errors);
  }
  if (!Array.isArray(packets)) {
    // a value of the wrong type is told only its type check (the ValidationPipe's rule)
    errors.push({ field: 'packets', message: 'must be an array' });
    if (isObjectLike(packets)) checkPacket(packets, 'packets', errors);
    throw invalid(errors);
  }
  if (packets.length > maxPackets) {
    throw new OfflineSyncError('too_many_packets', `A batch holds at most ${maxPackets} packets`);
  }
  for (let i = 0; i < packets.length; i++) {
    checkPacket(packets[i], `packets.${i}`, errors);
  }
  if (errors.length > 0) throw invalid(errors);
  return { packets: packets as SignedPacket[] };
}

function checkPacket(packet: unknown, field: string, errors: FieldError[]): void {
  if (packet === undefined || packet === null) {
    errors.push(required(field, packet));
    return;
  }
  if (!isObjectLike(packet)) {
    errors.push(notNested(field));
    return;
  }
  // an array passes as class-validator lets it (its payload is then missing: malformed_packet)
  if (Array.isArray(packet)) return;
  const p = packet as Record<string, unknown>;
  for (const key of Object.keys(p)) {
    if (!PACKET_KEYS.has(key)) errors.push(unknownProperty(`${field}.${key}`, key));
  }
  if (p.payload === undefined || p.payload === null) {
    errors.push(required(`${field}.payload`, p.payload));
  } else if (!isObjectLike(p.payload) || Array.isArray(p.payload)) {
    errors.push({ field: `${field}.payload`, message: 'must be an object' });
  }
  const signature = p.signature;
  if (signature === undefined || signature === null) {
    errors.push(required(`${field}.signature`, signature));
  } else if (typeof signature !== 'string') {
    errors.push({ field: `${field}.signature`, message: 'must be a string' });
  } else if (signature.length > MAX_SIGNATURE) {
    errors.push({
      field: `${field}.signature`,
      message: `must be shorter than or equal to ${MAX_SIGNATURE} characters`,
    });
  }
}

function isObjectLike(value: unknown): value is object {
  return value !== null && typeof value === 'object';
}

/** A required field absent or null: one entry, as the ValidationPipe's error factory says it. */
function required(field: string, value: unknown): FieldError {
  return { field, message: value === null ? 'must not be null' : 'is required' };
}

function notNested(field: string): FieldError {
  return { field, message: 'each value in nested property packets must be either object or array' };
}

function unknownProperty(field: string, key: string): FieldError {
  return { field, message: `property ${key} should not exist` };
}

function invalid(errors: FieldError[]): CommonError {
  return new CommonError('validation_failed', 'The request is invalid', errors);
}
