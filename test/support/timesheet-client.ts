/** Helpers for timesheet specs and the bench: sites with zones, crews, punches, signed requests. */
import type { Clock, Env } from '@app/common';
import { http, startTestApp, TestApp } from './test-app';
import {
  canonicalJson,
  enrollPhone,
  hmacHex,
  nextPhoneNumber,
  Phone,
  registerPhone,
  signPacket,
  syncBatch,
} from './worker-client';

export const SITE_GEO = { lat: 28.6139, lng: 77.209 };

export async function createSite(baseUrl: string, adminKey: string, timeZone?: string) {
  const res = await http(baseUrl, 'POST', '/api/v5/sites', {
    key: adminKey,
    body: {
      name: `Site ${timeZone ?? 'default'}`,
      geo: SITE_GEO,
      radiusM: 200,
      ...(timeZone ? { timeZone } : {}),
    },
  });
  expect(res.status).toBe(201);
  return res.body as { siteId: string; timeZone: string };
}

let sim = 0;
export async function phoneAt(baseUrl: string, adminKey: string, siteId: string): Promise<Phone> {
  sim += 1;
  return enrollPhone(baseUrl, adminKey, siteId, { simHash: `ts-sim-${process.pid}-${sim}` });
}

export function punch(
  phone: Phone,
  type: 'check_in' | 'check_out',
  iso: string,
  geo = { ...SITE_GEO, accuracyM: 8 },
) {
  return signPacket(phone, { type, timestamp: new Date(iso).toISOString(), geo });
}

export async function sync(baseUrl: string, phone: Phone, packets: ReturnType<typeof punch>[]) {
  const res = await syncBatch(baseUrl, phone.token, packets);
  expect(res.status).toBe(200);
  return res.body as {
    results: { packetId: string; status: string; seq?: number; reason?: string }[];
    accepted: number;
    duplicates: number;
  };
}

/** A thekedar with a registered device (its secret signs requests), working on `siteIds`. */
export interface ThekedarDevice {
  thekedarId: string;
  deviceId: string;
  secret: Buffer;
}

export async function thekedarWithDevice(
  baseUrl: string,
  adminKey: string,
  siteIds: string[],
): Promise<ThekedarDevice> {
  sim += 1;
  const thekedar = await http(baseUrl, 'POST', '/api/v5/thekedars', {
    key: adminKey,
    body: { name: 'Ramesh', phone: '+91 90000 00011', siteIds },
  });
  expect(thekedar.status).toBe(201);
  const reg = await http(baseUrl, 'POST', '/api/v5/device/register', {
    body: {
      enrollmentCode: thekedar.body.enrollmentCode,
      fingerprint: {
        os: 'Android 14',
        model: 'Pixel 8',
        simHash: `ts-thekedar-${process.pid}-${sim}`,
      },
    },
  });
  expect(reg.status).toBe(201);
  return {
    thekedarId: thekedar.body.thekedarId,
    deviceId: reg.body.deviceId,
    secret: Buffer.from(reg.body.deviceSecret, 'base64'),
  };
}

/** Headers of a thekedar-signed request: HMAC over `<timestamp>.<JCS(signed value)>`. */
export function signedBy(
  k: ThekedarDevice,
  signedValue: unknown,
  timestamp: string,
): Record<string, string> {
  return {
    'x-thekedar-id': k.thekedarId,
    'x-device-id': k.deviceId,
    'x-request-timestamp': timestamp,
    'x-signature': hmacHex(k.secret, `${timestamp}.${canonicalJson(signedValue)}`),
  };
}

/** A phone for a worker the thekedar onboards with a signed request. */
export async function crewPhone(
  baseUrl: string,
  k: ThekedarDevice,
  siteId: string,
  timestamp: string,
): Promise<Phone> {
  sim += 1;
  const body = { name: 'Crew member', phone: nextPhoneNumber('+91 98764'), siteIds: [siteId] };
  const worker = await http(baseUrl, 'POST', '/api/v5/workers', {
    body,
    headers: signedBy(k, body, timestamp),
  });
  expect(worker.status).toBe(201);
  return registerPhone(baseUrl, worker.body, siteId, `ts-crew-${process.pid}-${sim}`);
}

/** `ms` milliseconds ago, as an ISO date-time. */
export const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

/**
 * The period (`from=…&to=…`, UTC days) from two days ago to tomorrow: every day a punch made
 * in the last day falls on, in any site time zone.
 */
function periodAroundNow(): string {
  const day = (offset: number) =>
    new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  return `from=${day(-2)}&to=${day(1)}`;
}

/** A server as its admin calls it (a TestApp). */
type AdminOf = { baseUrl: string; keys: { admin: string } };

/**
 * A new site on `t` and a phone at it that has synced one shift: a check-in `inAgo` and a
 * check-out `outAgo` milliseconds ago.
 */
export async function siteWithShift(
  t: AdminOf,
  inAgo: number,
  outAgo: number,
): Promise<{ siteId: string; phone: Phone }> {
  const { siteId } = await createSite(t.baseUrl, t.keys.admin);
  const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
  await sync(t.baseUrl, phone, [
    punch(phone, 'check_in', ago(inAgo)),
    punch(phone, 'check_out', ago(outAgo)),
  ]);
  return { siteId, phone };
}

/** Every day of a site's timesheets over periodAroundNow(), as `t`'s admin reads them. */
export function recentTimesheetDays(
  t: AdminOf,
  siteId: string,
): Promise<Array<Record<string, any>>> {
  return allTimesheetDays(t.baseUrl, t.keys.admin, siteId, periodAroundNow());
}

/** Every day of a site's timesheets over `period` (`from=…&to=…`), page by page (100 a page). */
export async function allTimesheetDays(
  baseUrl: string,
  key: string,
  siteId: string,
  period: string,
): Promise<Array<Record<string, any>>> {
  const days: Array<Record<string, any>> = [];
  let cursor: string | undefined;
  do {
    const res = await http(
      baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/timesheets?${period}&limit=100${cursor ? `&cursor=${cursor}` : ''}`,
      { key },
    );
    expect(res.status).toBe(200);
    days.push(...(res.body.days as Array<Record<string, any>>));
    cursor = res.body.nextCursor;
  } while (cursor);
  return days;
}

/**
 * A server for a month of timesheets on a controllable clock: syncs up to 30 days offline
 * taken, and no worker blocked by a low trust score (`env` adds or overrides settings).
 */
export function startTimesheetApp(clock: Clock, env: Env = {}): Promise<TestApp> {
  return startTestApp(
    { SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 30), TRUST_AUTO_BLOCK_FLOOR: '0', ...env },
    { clock },
  );
}

/** A worker's day at a site (`day`: YYYY-MM-DD), as `t`'s admin reads it; undefined: none. */
export async function workerDay(t: TestApp, siteId: string, phone: Phone, day: string) {
  const res = await http(
    t.baseUrl,
    'GET',
    `/api/v5/sites/${siteId}/timesheets?from=${day}&to=${day}&workerId=${phone.workerId}`,
    { key: t.keys.admin },
  );
  expect(res.status).toBe(200);
  return res.body.days[0];
}

/** A worker's payroll row at a site over [from, to], as `t`'s auditor reads it. */
export async function workerPayroll(
  t: TestApp,
  siteId: string,
  phone: Phone,
  from: string,
  to: string,
) {
  const res = await http(
    t.baseUrl,
    'GET',
    `/api/v5/sites/${siteId}/payroll?from=${from}&to=${to}&workerId=${phone.workerId}`,
    { key: t.keys.auditor },
  );
  expect(res.status).toBe(200);
  return res.body.workers[0];
}

/** Punches to sync, each `[type, ISO time]`. */
export type Punches = ['check_in' | 'check_out', string][];

/** Syncs the punches, every one accepted; returns their ledger seqs. */
export async function syncPunches(baseUrl: string, phone: Phone, list: Punches): Promise<number[]> {
  const res = await sync(
    baseUrl,
    phone,
    list.map(([type, at]) => punch(phone, type, at)),
  );
  expect(res.accepted).toBe(list.length);
  return res.results.map((r) => r.seq!);
}

/** Syncs the punches, every one refused (`rejected`) for `reason`. */
export async function syncRefused(
  baseUrl: string,
  phone: Phone,
  list: Punches,
  reason: string,
): Promise<void> {
  const res = await sync(
    baseUrl,
    phone,
    list.map(([type, at]) => punch(phone, type, at)),
  );
  expect(res.results.map((r) => [r.status, r.reason])).toEqual(
    list.map(() => ['rejected', reason]),
  );
}

/** The types of a day's flags, in order. */
export const flagTypes = (day: { flags: { type: string }[] }) => day.flags.map((f) => f.type);
