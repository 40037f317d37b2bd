import { isIP } from 'node:net';
import { UNSIGNED_REJECTION_TYPES } from '@app/fraud/domain/fraud-event';
import { DeviceFingerprint } from './worker-device';

/** One reason a score is what it is: `effect` points added (or taken off when negative). */
export interface TrustFactor {
  name: string;
  effect: number;
  detail: string;
}

export interface TrustScore {
  score: number;
  factors: TrustFactor[];
}

/** What a request says about the device that sends it (all optional: old apps send less). */
export interface TrustRequestSignals {
  userAgent?: string;
  appVersion?: string;
  /** The `x-device-id` header, compared with the device the credential names. */
  deviceIdHeader?: string;
  ip?: string;
}

export interface TrustInput {
  now: Date;
  device: {
    deviceId: string;
    createdAt: Date;
    isBlocked: boolean;
    fingerprint: DeviceFingerprint;
    lastIp?: string;
  };
  /** The person's standing the device starts from (own default, or inherited from a thekedar). */
  baseline: { score: number; detail: string };
  /** The device's fraud events (any order); those outside the window are ignored. */
  fraudEvents: { type: string; at: Date }[];
  request?: TrustRequestSignals;
  settings: {
    minAppVersion: string;
    fraudWindowDays: number;
    fraudPenaltyCap: number;
    /**
     * TRUST_AUTO_BLOCK_FLOOR: the unsigned rejections' cap is half the room between the baseline
     * and it (`unsignedPenaltyCap`).
     */
    autoBlockFloor: number;
  };
}

/**
 * Points one fraud event takes off at full weight (it fades linearly to 0 over the window).
 * Each type takes off at most 3x its weight, the unsigned rejections together at most
 * `unsignedPenaltyCap`, and all of them at most TRUST_FRAUD_PENALTY_CAP.
 * A type not listed weighs nothing. `device_blocked` (a sync refused because the device is
 * blocked) is not listed: the block is the action, already scored (a blocked device is 0), and
 * the phone's app retrying its queue meanwhile is no evidence against it. Weighed at 5, those
 * retries left a phone an admin unblocked under TRUST_LOW_THRESHOLD for weeks. The events are
 * still recorded and listed.
 *
 * `packet_flood` is not listed: it is its own factor (PACKET_FLOOD_WEIGHT), outside the cap.
 */
export const FRAUD_WEIGHTS: Record<string, number> = {
  impossible_travel: 10,
  shared_device: 8,
  invalid_signature: 8,
  packet_id_conflict: 8,
  device_mismatch: 8,
  worker_mismatch: 8,
  onboarding_signature_invalid: 10,
  onboarding_replay: 10,
  onboarding_stale_timestamp: 4,
  invalid_token: 5,
  site_not_allowed: 4,
  outside_geofence: 3,
  timestamp_in_future: 3,
  outside_token_window: 3,
  timestamp_too_old: 2,
  malformed_packet: 2,
  rapid_repeat: 1,
};
const PER_TYPE_CAP = 3;

/**
 * The most the unsigned rejections (UNSIGNED_REJECTION_TYPES: `invalid_signature`,
 * `device_mismatch`, `malformed_packet`, decided before or without a verified HMAC) take off
 * together: their own factor, `unsigned_rejections`, within TRUST_FRAUD_PENALTY_CAP. A phone's
 * bearer token alone sends them (a leaked token, or an app bug), so they are weak evidence
 * against the device: they take at most **half the room** the device's own baseline leaves above
 * the auto-block floor (`unsignedPenaltyCap`: (the baseline − TRUST_AUTO_BLOCK_FLOOR) / 2, rounded
 * down, never negative), at most 30. The other half is left to signed evidence: a worker created
 * by an admin (50) under the default floor (20) loses at most 15 to them and keeps 15 points
 * above the floor, so an ordinary honest event of its own (a fast clock's
 * `timestamp_in_future`, 3) never tips it; only its own signed misbehaviour can take the rest.
 * Capped at the whole room (30), a token's holder left such a phone exactly at the floor, and one
 * honest clock-skew punch then blocked it (integrator finding 2). A thekedar's phone (80) 30,
 * at 50; a worker a thekedar onboarded stands on the thekedar device's score while the
 * inheritance lasts (68: 24). Per type they would take up to 24 + 24 + 6 = 54. Still recorded,
 * listed and counted (`mdai_fraud_events_total{type}`, the alert MdaiUnsignedSyncRejections);
 * signed misbehaviour keeps its weights.
 */
export const UNSIGNED_PENALTY_CAP = 30;

/**
 * The most the unsigned rejections take off together from a device standing on `baseline` (the
 * `baseline` factor: the person's own standing or the inherited one) under the auto-block floor
 * `autoBlockFloor`: half the room between them (rounded down, never negative), at most
 * UNSIGNED_PENALTY_CAP.
 */
export function unsignedPenaltyCap(baseline: number, autoBlockFloor: number): number {
  return Math.max(0, Math.min(UNSIGNED_PENALTY_CAP, Math.floor((baseline - autoBlockFloor) / 2)));
}

/**
 * Points one `packet_flood` event takes off at full weight (fading over the window as the
 * others), at most 3 of them: the device sent more than FRAUD_DEVICE_PER_MINUTE distinct
 * packets in a minute, signed with its secret (the HMAC verified), refused as only a bug of the
 * app or a forger makes them (another worker's, a reused packetId; PACKET_FLOOD_TYPES; one event
 * per type and minute per replica, the rows past the bound not stored). Its own factor, outside
 * TRUST_FRAUD_PENALTY_CAP. The floor judges the device's own score (`floorScore`: a request's
 * headers add nothing to it), so the cap (60) alone already lets the other events take any
 * worker's phone under the floor; the flood's weight makes it take one at once. One
 * `packet_flood` event, with the flooded type's own rows (3 × 8 = 24), takes any worker's phone
 * under the floor (blocked; at best 50 + 10 − 60 − 24, or 80 + 5 − 60 − 24 on a standing
 * inherited from a thekedar); a thekedar's (80) at its second (two flooded types, or two
 * replicas, in one minute are two). An honest app never reaches the bound.
 */
const PACKET_FLOOD_WEIGHT = 60;
const DAY_MS = 86_400_000;

const OS_FAMILIES: [family: string, pattern: RegExp][] = [
  ['android', /android/i],
  ['ios', /\b(ios|iphone|ipad|cpu (iphone )?os)\b/i],
  ['windows', /windows/i],
  ['macos', /mac ?os|macintosh/i],
  ['linux', /\blinux\b/i],
];

/**
 * The trust score (0-100) of a device, and of a request when its signals are given: the sum
 * of the factors' effects, rounded and clamped. A pure function of its input (the clock is
 * part of the input), so the same inputs always give the same score.
 */
export function computeTrustScore(input: TrustInput): TrustScore {
  const factors: TrustFactor[] = [
    { name: 'baseline', effect: input.baseline.score, detail: input.baseline.detail },
    ageFactor(input.now, input.device.createdAt),
    ...historyFactors(input),
  ];
  const flood = floodFactor(input);
  if (flood) factors.push(flood);
  if (input.request) {
    factors.push(
      userAgentFactor(input.request.userAgent, input.device.fingerprint),
      appVersionFactor(input.request.appVersion, input.settings.minAppVersion),
      deviceIdFactor(input.request.deviceIdHeader, input.device.deviceId),
      ipFactor(input.request.ip, input.device.lastIp),
    );
  }
  const sum = factors.reduce((total, f) => total + f.effect, 0);
  if (input.device.isBlocked) {
    // what the block takes off the score the other factors give (clamped at 0 as unblocked):
    // never positive (review LOW-7: `-sum` of a sum below 0 read as a factor raising it)
    factors.push({
      name: 'block_state',
      effect: sum > 0 ? -sum : 0,
      detail: 'the device is blocked',
    });
    return { score: 0, factors };
  }
  factors.push({ name: 'block_state', effect: 0, detail: 'not blocked' });
  return { score: clampedScore(sum), factors };
}

function clampedScore(sum: number): number {
  return Math.max(0, Math.min(100, Math.round(sum)));
}

/** The factors a request's own signals give (its headers and address): its sender chooses them. */
export const REQUEST_FACTORS: ReadonlySet<string> = new Set([
  'user_agent',
  'app_version',
  'device_id_header',
  'ip',
]);

/**
 * The score the auto-block floor judges (`DeviceTrustService.enforceFloor`): the device's own
 * factors, never the request's positive ones, and the request's negative ones only when
 * `proven` (a packet of the request proved the device's secret: review MED 3).
 *
 * The request's headers are the sender's choice, so they neither block (a bearer token alone,
 * `x-device-id` naming another device −30, another OS family −20, a bad app version −10, would
 * otherwise block a fresh phone with no packet at all) nor keep a device above the floor:
 * a User-Agent naming the registered model, the app version and the token's own device id are
 * +15 that anyone sends. Counted, a phone whose device score (the admin's `…/trust` view) was
 * 18, under the floor of 20, kept syncing while it sent them, and was blocked by the next sync
 * sent with an HTTP library's default headers (integrator finding 1). Now a device score under
 * the floor is a block, whatever the headers: the view and the sync agree.
 */
export function floorScore(trust: TrustScore, proven: boolean): TrustScore {
  const factors = trust.factors.flatMap((f) => {
    if (!REQUEST_FACTORS.has(f.name) || f.effect === 0) return [f];
    if (f.effect > 0 || !proven) return [];
    return [f];
  });
  return { score: clampedScore(factors.reduce((total, f) => total + f.effect, 0)), factors };
}

/**
 * The block's reason: the negative factors of the judged score, the one that weighs most first,
 * except the unsigned rejections, named last ("with …"): they take at most half the room above
 * the floor, so they never tip a device by themselves; what tipped it is the signed evidence
 * (or the request's own proven headers) before them.
 */
export function blockReasonFactors(trust: TrustScore): string {
  const negative = trust.factors.filter((f) => f.effect < 0);
  const unsigned = negative.filter((f) => f.name === 'unsigned_rejections');
  const tipping = negative
    .filter((f) => f.name !== 'unsigned_rejections')
    .sort((a, b) => a.effect - b.effect)
    .slice(0, 3);
  const named = (f: TrustFactor) => `${f.name} ${f.effect} (${f.detail})`;
  const parts = tipping.map(named);
  if (unsigned.length > 0) parts.push(`with ${unsigned.map(named).join('; ')}`);
  return parts.join('; ');
}

function ageFactor(now: Date, createdAt: Date): TrustFactor {
  const days = Math.floor((now.getTime() - createdAt.getTime()) / DAY_MS);
  const effect = days >= 30 ? 10 : days >= 7 ? 5 : 0;
  return {
    name: 'device_age',
    effect,
    detail: `registered ${Math.max(0, days)} days ago (+5 from 7 days, +10 from 30 days)`,
  };
}

/**
 * The fraud history: `fraud_history` (the signed and other types) and, when the device has
 * any, `unsigned_rejections` (`unsignedPenaltyCap`). Both within TRUST_FRAUD_PENALTY_CAP: the
 * unsigned ones are taken first (rounded), the rest of the cap is what `fraud_history` may take.
 */
function historyFactors(input: TrustInput): TrustFactor[] {
  const days = input.settings.fraudWindowDays;
  const windowMs = days * DAY_MS;
  const perType = new Map<string, { count: number; points: number }>();
  for (const event of input.fraudEvents) {
    const age = Math.max(0, input.now.getTime() - event.at.getTime());
    const weight = FRAUD_WEIGHTS[event.type] ?? 0;
    // a stored time that is no date (NaN: written outside the server) weighs nothing; a NaN
    // score would reach the packet's sealed meta, where JCS has no form for it
    if (!(age < windowMs) || weight === 0) continue;
    const entry = perType.get(event.type) ?? { count: 0, points: 0 };
    entry.count += 1;
    entry.points += weight * (1 - age / windowMs);
    perType.set(event.type, entry);
  }
  const sorted = [...perType].sort(([a], [b]) => (a < b ? -1 : 1));
  const unsigned = sorted.filter(([type]) => isUnsigned(type));
  const signed = sorted.filter(([type]) => !isUnsigned(type));
  const cap = input.settings.fraudPenaltyCap;
  const unsignedCap = unsignedPenaltyCap(input.baseline.score, input.settings.autoBlockFloor);
  const unsignedTaken = Math.round(Math.min(penaltyOf(unsigned), unsignedCap, cap));
  const signedTaken = Math.round(Math.min(penaltyOf(signed), cap - unsignedTaken));
  const factors: TrustFactor[] = [
    {
      name: 'fraud_history',
      effect: negated(signedTaken),
      detail:
        signed.length > 0
          ? `${countsOf(signed)} in the last ${days} days, weighted by type and recency`
          : `no fraud events in the last ${days} days${unsigned.length > 0 ? ' but unsigned rejections (unsigned_rejections)' : ''}`,
    },
  ];
  if (unsigned.length > 0) {
    factors.push({
      name: 'unsigned_rejections',
      effect: negated(unsignedTaken),
      detail: `${countsOf(unsigned)} in the last ${days} days: sync rejections decided before or without the device's signature (the bearer token alone sends them), weighted by type and recency, together at most ${unsignedCap}: half the room above the auto-block floor, never enough alone to block a device`,
    });
  }
  return factors;
}

function isUnsigned(type: string): boolean {
  return (UNSIGNED_REJECTION_TYPES as ReadonlySet<string>).has(type);
}

/** Each type's points, at most PER_TYPE_CAP times its weight, summed. */
function penaltyOf(types: [string, { points: number }][]): number {
  return types.reduce(
    (total, [type, { points }]) => total + Math.min(points, PER_TYPE_CAP * FRAUD_WEIGHTS[type]),
    0,
  );
}

function countsOf(types: [string, { count: number }][]): string {
  return types.map(([type, { count }]) => `${type} x${count}`).join(', ');
}

/** Points taken off as an effect (0, never -0). */
function negated(points: number): number {
  return points === 0 ? 0 : -points;
}

/** The `packet_flood` events in the window, when there are any (no factor otherwise). */
function floodFactor(input: TrustInput): TrustFactor | undefined {
  const windowMs = input.settings.fraudWindowDays * DAY_MS;
  let count = 0;
  let points = 0;
  for (const event of input.fraudEvents) {
    if (event.type !== 'packet_flood') continue;
    const age = Math.max(0, input.now.getTime() - event.at.getTime());
    if (!(age < windowMs)) continue;
    count += 1;
    points += PACKET_FLOOD_WEIGHT * (1 - age / windowMs);
  }
  if (count === 0) return undefined;
  const effect = -Math.round(Math.min(points, PER_TYPE_CAP * PACKET_FLOOD_WEIGHT));
  return {
    name: 'packet_flood',
    effect: effect === 0 ? 0 : effect,
    detail: `packet_flood x${count} in the last ${input.settings.fraudWindowDays} days (more than FRAUD_DEVICE_PER_MINUTE distinct signed packets a minute refused as only a bug of the app or a forger makes them), weighted by recency, outside the penalty cap`,
  };
}

function userAgentFactor(userAgent: string | undefined, fp: DeviceFingerprint): TrustFactor {
  const name = 'user_agent';
  if (!userAgent) return { name, effect: 0, detail: 'not sent' };
  const ua = userAgent.toLowerCase();
  if (ua.includes(fp.model.toLowerCase()) || ua.includes(fp.os.toLowerCase())) {
    return { name, effect: 5, detail: 'names the registered os or model' };
  }
  const registered = familyOf(fp.os) ?? familyOf(fp.model);
  const claimed = familyOf(userAgent);
  if (claimed && registered && claimed !== registered) {
    return { name, effect: -20, detail: `says ${claimed}; the device registered as ${registered}` };
  }
  return { name, effect: -5, detail: 'names neither the registered os nor model' };
}

function familyOf(text: string): string | undefined {
  return OS_FAMILIES.find(([, pattern]) => pattern.test(text))?.[0];
}

function appVersionFactor(version: string | undefined, minimum: string): TrustFactor {
  const name = 'app_version';
  if (!version) return { name, effect: 0, detail: 'not sent' };
  const parsed = parseVersion(version);
  if (!parsed) return { name, effect: -10, detail: 'not a version number' };
  if (compareVersions(parsed, parseVersion(minimum)!) < 0) {
    return { name, effect: -10, detail: `${parsed.join('.')} is below the minimum ${minimum}` };
  }
  return { name, effect: 5, detail: `${parsed.join('.')} meets the minimum ${minimum}` };
}

export function parseVersion(text: string): number[] | undefined {
  const match = /^v?(\d{1,4})(?:\.(\d{1,4}))?(?:\.(\d{1,4}))?(?:[-+][0-9A-Za-z.-]{0,40})?$/.exec(
    text.trim(),
  );
  return match ? [1, 2, 3].map((i) => Number(match[i] ?? 0)) : undefined;
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function deviceIdFactor(header: string | undefined, deviceId: string): TrustFactor {
  const name = 'device_id_header';
  if (!header) return { name, effect: 0, detail: 'not sent' };
  if (header === deviceId) return { name, effect: 5, detail: 'matches the credential device' };
  return { name, effect: -30, detail: 'names another device than the credential' };
}

function ipFactor(ip: string | undefined, lastIp: string | undefined): TrustFactor {
  const name = 'ip';
  if (!ip || isIP(ip) === 0) return { name, effect: 0, detail: 'unknown' };
  if (isPrivateIp(ip)) return { name, effect: 0, detail: 'private or loopback address' };
  if (!lastIp) return { name, effect: 0, detail: 'first public address seen' };
  if (lastIp === ip) return { name, effect: 5, detail: 'same address as last seen' };
  return { name, effect: -5, detail: 'changed since last seen' };
}

/** Loopback, RFC 1918, CGNAT, link-local and IPv6 unique-local/link-local addresses. */
export function isPrivateIp(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (isIP(v4) === 4) {
    const [a, b] = v4.split('.').map(Number);
    return (
      a === 10 ||
      a === 127 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254)
    );
  }
  const v6 = ip.toLowerCase();
  return v6 === '::1' || v6.startsWith('fc') || v6.startsWith('fd') || v6.startsWith('fe80');
}
