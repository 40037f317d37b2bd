/**
 * A worker phone, written from the protocol description only: its own RFC 8785 (JCS)
 * serializer and HMAC, not the server's helpers, so a test passing with it shows that an
 * independent client interoperates.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { http } from './test-app';

/** JCS for the values packets carry: sorted keys (UTF-16 code units), no whitespace, ES number form. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}

export function hmacHex(secret: Buffer, text: string): string {
  return createHmac('sha256', secret).update(text, 'utf8').digest('hex');
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export interface Phone {
  deviceId: string;
  workerId: string;
  siteId: string;
  secret: Buffer;
  token: string;
  tokenExpiresAt: string;
  trustScore: number;
}

export interface Packet {
  payload: Record<string, any>;
  signature: string;
}

let numbers = 0;

/**
 * A phone number no other worker of this test process has (a phone is one worker per site and
 * per thekedar): `+91 98765 00001`, `+91 98765 00002`… in the order they are asked for.
 */
export function nextPhoneNumber(prefix = '+91 98765'): string {
  numbers += 1;
  return `${prefix} ${String(numbers).padStart(5, '0')}`;
}

/** Creates a site (unless given) and a worker, and registers a phone for the worker. */
export async function enrollPhone(
  baseUrl: string,
  adminKey: string,
  siteId?: string,
  options: { simHash?: string } = {},
): Promise<Phone> {
  if (!siteId) {
    const site = await http(baseUrl, 'POST', '/api/v5/sites', {
      key: adminKey,
      body: { name: 'Tower B', geo: { lat: 28.6139, lng: 77.209 }, radiusM: 150 },
    });
    expect(site.status).toBe(201);
    siteId = site.body.siteId as string;
  }
  const worker = await http(baseUrl, 'POST', '/api/v5/workers', {
    key: adminKey,
    body: { name: 'Sita Devi', phone: nextPhoneNumber(), siteIds: [siteId] },
  });
  expect(worker.status).toBe(201);
  return registerPhone(baseUrl, worker.body, siteId, options.simHash ?? 'f00dfeedcafe0001');
}

/**
 * A new site (`siteName`) with a thekedar on it and the thekedar's phone registered (its
 * `workerId` the thekedarId, its token naming no site): the phone and the site's id.
 */
export async function thekedarPhone(
  baseUrl: string,
  adminKey: string,
  options: { siteName: string; phonePrefix: string; simHash: string },
): Promise<{ phone: Phone; siteId: string }> {
  const site = await http(baseUrl, 'POST', '/api/v5/sites', {
    key: adminKey,
    body: { name: options.siteName, geo: { lat: 28.6139, lng: 77.209 }, radiusM: 150 },
  });
  expect(site.status).toBe(201);
  const siteId = site.body.siteId as string;
  const thekedar = await http(baseUrl, 'POST', '/api/v5/thekedars', {
    key: adminKey,
    body: { name: 'Ramesh', phone: nextPhoneNumber(options.phonePrefix), siteIds: [siteId] },
  });
  expect(thekedar.status).toBe(201);
  const phone = await registerPhone(
    baseUrl,
    { enrollmentCode: thekedar.body.enrollmentCode, workerId: thekedar.body.thekedarId },
    siteId,
    options.simHash,
  );
  return { phone, siteId };
}

/** Registers the worker app's phone with a new worker's enrollment code (as the app does). */
export async function registerPhone(
  baseUrl: string,
  worker: { enrollmentCode: string; workerId: string },
  siteId: string,
  simHash: string,
): Promise<Phone> {
  const reg = await http(baseUrl, 'POST', '/api/v5/device/register', {
    body: {
      enrollmentCode: worker.enrollmentCode,
      fingerprint: { os: 'Android 14', model: 'Redmi Note 12', simHash },
    },
  });
  expect(reg.status).toBe(201);
  return {
    deviceId: reg.body.deviceId,
    workerId: worker.workerId,
    siteId,
    secret: Buffer.from(reg.body.deviceSecret, 'base64'),
    token: reg.body.offlineToken,
    tokenExpiresAt: reg.body.offlineTokenExpiresAt,
    trustScore: reg.body.trustScore,
  };
}

export function signPacket(
  phone: Phone,
  overrides: Record<string, unknown> = {},
  secret = phone.secret,
): Packet {
  const payload = {
    packetId: randomUUID(),
    workerId: phone.workerId,
    siteId: phone.siteId,
    deviceId: phone.deviceId,
    type: 'check_in',
    timestamp: new Date(Date.now() - 60_000).toISOString(),
    geo: { lat: 28.61391, lng: 77.20902, accuracyM: 8.5 },
    ...overrides,
  };
  return { payload, signature: hmacHex(secret, canonicalJson(payload)) };
}

/** The headers the worker app sends with a sync (the trust score reads them). */
export function phoneHeaders(phone: Pick<Phone, 'deviceId'>): Record<string, string> {
  return {
    'user-agent': 'MDAI-Worker/1.4.0 (Android 14; Redmi Note 12)',
    'x-app-version': '1.4.0',
    'x-device-id': phone.deviceId,
  };
}

export function syncBatch(
  baseUrl: string,
  token: string,
  packets: Packet[],
  headers?: Record<string, string>,
) {
  const deviceId = packets[0]?.payload?.deviceId;
  return http(baseUrl, 'POST', '/api/v5/sync', {
    headers: {
      ...(typeof deviceId === 'string' ? phoneHeaders({ deviceId }) : {}),
      ...headers,
      authorization: `Bearer ${token}`,
    },
    body: { packets },
  });
}

/**
 * `syncBatch` as the phone app sends it: a 503 `store_unavailable` (the store did not take the
 * whole batch in time; some packets may be stored) is sent again, at most `tries` times in all.
 * `tries`: how many sends it took.
 */
export async function syncBatchAsPhone(
  baseUrl: string,
  token: string,
  packets: Packet[],
  tries = 5,
): Promise<Awaited<ReturnType<typeof syncBatch>> & { tries: number }> {
  for (let n = 1; ; n++) {
    const res = await syncBatch(baseUrl, token, packets);
    if (n >= tries || res.status !== 503 || res.body?.code !== 'store_unavailable')
      return { ...res, tries: n };
  }
}

/**
 * `POST /api/v5/device/token`: the phone's signed refresh (HMAC over
 * `mdai.token-refresh.<deviceId>.<timestamp>` with its secret, or `secret` to forge one).
 */
export function refreshToken(
  baseUrl: string,
  phone: Pick<Phone, 'deviceId' | 'secret'>,
  timestamp = new Date().toISOString(),
  secret = phone.secret,
) {
  return http(baseUrl, 'POST', '/api/v5/device/token', {
    body: {
      deviceId: phone.deviceId,
      timestamp,
      signature: hmacHex(secret, `mdai.token-refresh.${phone.deviceId}.${timestamp}`),
    },
  });
}
