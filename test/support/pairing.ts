import { TestKiosk } from './kiosk';
import { http, TestApp } from './test-app';
import { TestSocket } from './ws-client';

export interface OpenedSession {
  sessionId: string;
  mobileToken: string;
  deviceToken: string;
  expiresAt: string;
  body: any;
}

export async function openSession(
  t: TestApp,
  platformId: string,
  userId = 'user-1',
): Promise<OpenedSession> {
  const res = await http(t.baseUrl, 'POST', '/api/auth/mobile', {
    key: t.keys.mobile,
    body: { user_id: userId, platform_id: platformId },
  });
  if (res.status !== 201)
    throw new Error(`auth/mobile failed: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    sessionId: res.body.session_id,
    mobileToken: res.body.token,
    deviceToken: res.body.qr_payload.token,
    expiresAt: res.body.expires_at,
    body: res.body,
  };
}

/** Opens /ws/device with the QR token and answers the challenge with the kiosk's signature. */
export async function connectDevice(
  app: TestApp,
  kiosk: TestKiosk,
  session: OpenedSession,
): Promise<TestSocket> {
  const device = await TestSocket.open(`${app.wsUrl}/ws/device?token=${session.deviceToken}`);
  const { nonce } = await device.next('challenge');
  device.send({
    type: 'auth',
    session_id: session.sessionId,
    device_id: kiosk.deviceId,
    signature: kiosk.signAuth(session.sessionId, nonce),
  });
  return device;
}

/**
 * A kiosk's relay auth that the server refuses: a session opened for `platformId`, the kiosk's
 * signed answer on /ws/device, and the error frame and close code it gets.
 */
export async function refusedKioskAuth(
  app: TestApp,
  kiosk: TestKiosk,
  platformId: string,
): Promise<{ code: unknown; close: unknown }> {
  const device = await connectDevice(app, kiosk, await openSession(app, platformId));
  const error = await device.next('error');
  return { code: error.code, close: await device.waitClose() };
}

/** The kiosk `deviceId` as the admin listing shows it (undefined when not listed). */
export async function listedKiosk(
  app: TestApp,
  deviceId: string,
): Promise<Record<string, unknown> | undefined> {
  const res = await http(app.baseUrl, 'GET', `/api/kiosks?prefix=${deviceId}`, {
    key: app.keys.admin,
  });
  return (res.body as Array<{ device_id: string }>).find((k) => k.device_id === deviceId);
}

/** Mobile joins on `mobileApp`, kiosk authenticates on `deviceApp` (another instance or the same). */
export async function pair(
  mobileApp: TestApp,
  deviceApp: TestApp,
  kiosk: TestKiosk,
  session: OpenedSession,
): Promise<{ mobile: TestSocket; device: TestSocket }> {
  const mobile = await TestSocket.open(`${mobileApp.wsUrl}/ws/mobile?token=${session.mobileToken}`);
  await mobile.next('joined');
  const device = await connectDevice(deviceApp, kiosk, session);
  await device.next('joined');
  await mobile.next('status');
  await device.next('status');
  return { mobile, device };
}

/**
 * A fielded kiosk's session: the hardware's `POST /auth` token, and the hardware and the app
 * joined on it (as the old clients do).
 */
export async function legacyPair(
  t: TestApp,
): Promise<{ token: string; hardware: TestSocket; app: TestSocket }> {
  const auth = await http(t.baseUrl, 'POST', '/auth', { body: { api_key: t.keys.hardware } });
  const hardware = await TestSocket.open(`${t.wsUrl}/ws/hardware?token=${auth.body.token}`);
  await hardware.next('joined');
  const app = await TestSocket.open(`${t.wsUrl}/ws/app?token=${auth.body.token}`);
  await app.next('joined');
  return { token: auth.body.token, hardware, app };
}
