import { mkdtempSync, rmSync } from 'node:fs';
import { SessionService } from '@app/session';
import { tmpdir } from 'node:os';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { fakeJpeg, startUpstreamApps, UpstreamApps } from './support/fake-upstream';
import { TestKiosk } from './support/kiosk';
import { OpenedSession, openSession, pair } from './support/pairing';
import { gauge, pollUntil, storeDump, TestApp } from './support/test-app';
import { Frame, TestSocket } from './support/ws-client';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PLATFORM_ID = 'PLT_comesBack0042';
/** What the upstream says of the face: only the phone may read it, and never in the store's clear. */
const VERDICT = { status: 'success', message: 'face verified', holder: 'Asha Returning' };
const IMAGE = fakeJpeg(4096).toString('base64');

const returned = (t: TestApp) =>
  gauge(t.baseUrl, 'mdai_relay_phone_outcomes_total{how="on_return"}').catch(() => 0);
const readLive = (t: TestApp) =>
  gauge(t.baseUrl, 'mdai_relay_phone_outcomes_total{how="live"}').catch(() => 0);

/**
 * A phone whose socket is gone while its kiosk's image is with the upstream (an outside
 * tester's finding: it never learned the verdict): the session keeps the phone's outcome, sealed,
 * and a phone socket that comes back on the same session token, on either replica, gets that
 * `result` once, then `session_closed` and 1000. Two replicas on one store and the Redis on
 * 127.0.0.1:6379, the upstream a real local HTTP server holding its answer until told.
 */
describe('relay: a phone back for the outcome it missed (e2e)', () => {
  let dataDir: string;
  let relay: UpstreamApps;
  let a: TestApp;
  let b: TestApp;
  let kiosk: TestKiosk;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-resume-'));
    relay = await startUpstreamApps({
      apps: 2,
      env: { DATA_DIR: dataDir, REDIS_URL, UPSTREAM_API_KEY: 'k' },
    });
    [a, b] = relay.apps;
    kiosk = await TestKiosk.registered(a, 'TEE-RESUME-1');
  });
  afterAll(async () => {
    await relay.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  beforeEach(() => relay.reset({ behaviour: true }));

  /** The upstream holds its answer (the verdict) until `release`; `reached` once it has the image. */
  function holdUpstream(): { reached: Promise<void>; release: () => void } {
    let called!: () => void;
    const reached = new Promise<void>((resolve) => (called = resolve));
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    relay.upstream.behaviour = () => {
      called();
      return { status: 200, body: VERDICT, hold };
    };
    return { reached, release };
  }

  /**
   * Phone on `a`, kiosk on `b`; the kiosk submits, and `whileUpstream` runs while the upstream
   * holds the image; then the upstream answers and the kiosk gets its copy and the close.
   */
  async function submitWhile(
    session: OpenedSession,
    whileUpstream: (mobile: TestSocket, device: TestSocket) => Promise<void>,
  ): Promise<{ mobile: TestSocket; device: TestSocket }> {
    const { mobile, device } = await pair(a, b, kiosk, session);
    const { reached, release } = holdUpstream();
    device.send({ type: 'submit_result', image: IMAGE });
    await reached;
    await whileUpstream(mobile, device);
    release();
    const kioskCopy = await device.next('result');
    expect(kioskCopy).toMatchObject({ status: 'success', status_code: 200 });
    expect(kioskCopy.platform_id).toBeUndefined();
    expect(await device.next('session_closed')).toEqual({
      type: 'session_closed',
      reason: 'completed',
    });
    expect(await device.waitClose()).toBe(1000);
    return { mobile, device };
  }

  /** The phone's socket drops (no close frame) and the server sees it go. */
  async function drop(mobile: TestSocket, device: TestSocket): Promise<void> {
    mobile.ws.terminate();
    await mobile.waitClose();
    expect(await device.next('status')).toMatchObject({ peer: 'mobile', state: 'disconnected' });
  }

  /** Opens /ws/mobile with the token and waits for its close: every frame it got, the close code. */
  async function comeBack(t: TestApp, token: string): Promise<{ frames: Frame[]; code: number }> {
    const socket = await TestSocket.open(`${t.wsUrl}/ws/mobile?token=${token}`);
    const code = await socket.waitClose();
    return { frames: socket.frames, code };
  }

  /** The TCP socket under a client's WebSocket (to pause it, or cut it without a close frame). */
  const socketOf = (socket: TestSocket) => (socket.ws as unknown as { _socket: Socket })._socket;

  const phoneResult = {
    type: 'result',
    status: 'success',
    status_code: 200,
    data: VERDICT,
    platform_id: PLATFORM_ID,
  };

  it('should give a phone whose socket dropped mid-submission its result once, on the other replica; nothing to a stranger or to the kiosk', async () => {
    const session = await openSession(a, PLATFORM_ID);
    const stranger = await openSession(a, 'PLT_someoneElse0042');
    const { device } = await submitWhile(session, drop);
    const before = await returned(b);

    // the store keeps the outcome sealed: neither the verdict's words nor the platform id in clear
    const dump = await storeDump(a);
    expect(dump.includes(VERDICT.holder)).toBe(false);
    expect(dump.includes(PLATFORM_ID)).toBe(false);

    // another session's phone, on its own token: its own session, nothing of this one
    const other = await TestSocket.open(`${a.wsUrl}/ws/mobile?token=${stranger.mobileToken}`);
    expect(await other.next('joined')).toMatchObject({ session_id: stranger.sessionId });
    other.send({ type: 'ping' });
    await other.next('pong');
    expect(other.raw.join('')).not.toContain(VERDICT.holder);
    expect(other.frames.filter((f) => f.type === 'result')).toEqual([]);
    other.close();

    // the kiosk coming back on its QR token is refused as before: the outcome is the phone's
    const kioskAgain = await TestSocket.open(`${a.wsUrl}/ws/device?token=${session.deviceToken}`);
    await kioskAgain.error('session_closed');
    expect(await kioskAgain.waitClose()).toBe(4409);
    expect([...device.raw, ...kioskAgain.raw].join('')).not.toContain(PLATFORM_ID);
    expect(kioskAgain.raw.join('')).not.toContain(VERDICT.holder);

    // whoever photographed the QR cannot pose as the phone to collect it
    const qr = await TestSocket.open(`${b.wsUrl}/ws/mobile?token=${session.deviceToken}`);
    await qr.error('wrong_token_type');
    expect(qr.raw.join('')).not.toContain(VERDICT.holder);

    // the phone, back on the other replica: its result, once, then the session's end
    const back = await comeBack(b, session.mobileToken);
    expect(back.frames).toEqual([
      { ...phoneResult, latency_ms: expect.any(Number) },
      { type: 'session_closed', reason: 'completed' },
    ]);
    expect(back.code).toBe(1000);
    // counted, and no longer kept, once the phone's answer to the close is recorded
    expect(
      await pollUntil(
        () => returned(b),
        (n) => n === before + 1,
      ),
    ).toBe(before + 1);

    // given once: a second return, on either replica, is the usual refusal
    for (const t of [a, b]) {
      const again = await comeBack(t, session.mobileToken);
      expect(again.frames).toEqual([
        { type: 'error', code: 'session_closed', message: expect.any(String) },
      ]);
      expect(again.code).toBe(4409);
    }
    expect(relay.upstream.calls).toHaveLength(1);
  });

  it('should give the result again to a phone whose socket went silent (it read nothing, answered no close)', async () => {
    const session = await openSession(a, PLATFORM_ID);
    let silent!: TestSocket;
    await submitWhile(session, async (mobile) => {
      // the phone's network is gone without a word: its socket reads nothing from here on
      mobile.ws.pause();
      silent = mobile;
    });
    const back = await comeBack(b, session.mobileToken);
    expect(back.frames).toEqual([
      { ...phoneResult, latency_ms: expect.any(Number) },
      { type: 'session_closed', reason: 'completed' },
    ]);
    expect(back.code).toBe(1000);
    silent.ws.terminate();
  });

  it('should not give it again to a phone that read it live (it answered the close after it)', async () => {
    const session = await openSession(a, PLATFORM_ID);
    const before = await readLive(a);
    const { mobile } = await submitWhile(session, async () => undefined);
    expect(await mobile.next('result')).toMatchObject(phoneResult);
    expect(await mobile.next('session_closed')).toMatchObject({ reason: 'completed' });
    expect(await mobile.waitClose()).toBe(1000);
    // counted once its read is recorded in the store
    expect(
      await pollUntil(
        () => readLive(a),
        (n) => n === before + 1,
      ),
    ).toBe(before + 1);
    const again = await comeBack(b, session.mobileToken);
    expect(again.frames.map((f) => f.type)).toEqual(['error']);
    expect(again.code).toBe(4409);
  });

  it('should keep the result of a phone that began its own close (1001) before the live result, and give it on return', async () => {
    const session = await openSession(a, PLATFORM_ID);
    let phone!: TestSocket;
    await submitWhile(session, async (mobile) => {
      phone = mobile;
      // the phone goes away (1001); it reads nothing more, so our close is not yet answered
      mobile.ws.close(1001, 'going away');
      socketOf(mobile).pause();
    });
    socketOf(phone).resume();
    expect(await phone.waitClose()).toBe(1001);
    const back = await comeBack(b, session.mobileToken);
    expect(back.frames).toEqual([
      { ...phoneResult, latency_ms: expect.any(Number) },
      { type: 'session_closed', reason: 'completed' },
    ]);
    expect(back.code).toBe(1000);
  });

  it('should give the result again to a phone that read it live but whose close answer was lost (at least once)', async () => {
    const session = await openSession(a, PLATFORM_ID);
    let phone!: TestSocket;
    await submitWhile(session, async (mobile) => {
      phone = mobile;
      // its network goes as it reads session_closed, before `ws` answers the close (1006)
      mobile.ws.on('message', (data: Buffer) => {
        if (data.toString().includes('session_closed')) socketOf(mobile).destroy();
      });
    });
    await phone.waitClose();
    expect(phone.frames.map((f) => f.type)).toContain('result');
    const back = await comeBack(b, session.mobileToken);
    expect(back.frames.map((f) => f.type)).toEqual(['result', 'session_closed']);
    expect(back.code).toBe(1000);
  });

  it('should keep the result for a returning phone that drops again before reading it, and give it on its next return', async () => {
    const session = await openSession(a, PLATFORM_ID);
    await submitWhile(session, drop);
    // back, but its network goes again: what the server sent reaches its socket unread, and it
    // answers no close
    const flaky = new WebSocket(`${b.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    flaky.on('error', () => undefined);
    const tcp = await new Promise<Socket>((resolve) =>
      flaky.once('upgrade', (response) => {
        response.socket.pause();
        resolve(response.socket);
      }),
    );
    await pollUntil(
      () => Promise.resolve(tcp.readableLength),
      (n) => n > 0,
    );
    tcp.destroy();
    const back = await comeBack(a, session.mobileToken);
    expect(back.frames).toEqual([
      { ...phoneResult, latency_ms: expect.any(Number) },
      { type: 'session_closed', reason: 'completed' },
    ]);
    expect(back.code).toBe(1000);
  });

  it('should give the result to a phone that rejoined while the submission was with the upstream', async () => {
    const session = await openSession(a, PLATFORM_ID);
    let rejoined!: TestSocket;
    await submitWhile(session, async (mobile, device) => {
      await drop(mobile, device);
      rejoined = await TestSocket.open(`${b.wsUrl}/ws/mobile?token=${session.mobileToken}`);
      await rejoined.next('joined');
    });
    expect(await rejoined.next('result')).toMatchObject(phoneResult);
    expect(await rejoined.next('session_closed')).toEqual({
      type: 'session_closed',
      reason: 'completed',
    });
    expect(await rejoined.waitClose()).toBe(1000);
  });

  it('should refuse a phone that comes back after the session expired with the usual session_expired, and drop what was kept', async () => {
    // whole-second token expiry (one second less at worst): seconds for the pairing, the
    // submission and its result before the deadline, on a loaded machine too (3 s was not)
    const short = await relay.start({ SESSION_TTL_SECONDS: '8' });
    const session = await openSession(short, PLATFORM_ID);
    const { mobile, device } = await pair(short, short, kiosk, session);
    const { reached, release } = holdUpstream();
    device.send({ type: 'submit_result', image: IMAGE });
    await reached;
    await drop(mobile, device);
    release();
    await device.next('result');
    const sessions = short.app.get(SessionService);
    expect((await sessions.find(session.sessionId))?.outcomeSealed).toMatch(/^sealed1\./);
    // the session's life ends: what was kept for it is no longer given
    const left = Date.parse(session.expiresAt) - Date.now();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, left) + 250));
    const late = await comeBack(short, session.mobileToken);
    expect(late.frames).toEqual([
      { type: 'error', code: 'session_expired', message: expect.any(String) },
    ]);
    expect(late.code).toBe(4408);
    // nor kept: the sweep drops the outcomes of expired sessions (the session stays, a week)
    await sessions.sweep();
    expect(await sessions.find(session.sessionId)).toMatchObject({ status: 'completed' });
    expect((await sessions.find(session.sessionId))?.outcomeSealed).toBeUndefined();
  });
});
