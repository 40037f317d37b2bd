import { FakeUpstream, fakeJpeg, startUpstreamApps, UpstreamApps } from './support/fake-upstream';
import { TestKiosk } from './support/kiosk';
import { disguises, holdsPlatformId } from './support/leaks';
import { openSession, pair } from './support/pairing';
import { http, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';
import { pickWith, seededRandom as prng } from '@app/common/testing/seeded-random';

/** A platform id of the accepted shape: PLT_ and 10 to 20 letters or digits. */
function platformIdFrom(random: () => number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const length = 10 + Math.floor(random() * 11);
  let id = 'PLT_';
  for (let i = 0; i < length; i++) id += alphabet[Math.floor(random() * alphabet.length)];
  return id;
}

/**
 * Random JSON with the platform id planted in keys, values, array items and inside strings, in
 * any case and base64-encoded.
 */
function payload(random: () => number, realPid: string, depth = 0): unknown {
  const pick = pickWith(random);
  const forms = disguises(realPid);
  const pid = pick(forms);
  const word = () =>
    pick([
      'a',
      'step',
      'user',
      'id',
      'note',
      'x-y',
      'ü',
      '😀',
      'platformId',
      'PLATFORM_ID',
      'platform-id',
    ]);
  const leaf = (): unknown =>
    pick<() => unknown>([
      () => pid,
      () => `${word()} ${pid} ${word()}`,
      () => `${pid}${pick(forms)}`,
      () => word(),
      () => Math.floor(random() * 1000),
      () => random() < 0.5,
      () => null,
    ])();
  if (depth > 4 || random() < 0.25) return leaf();
  if (random() < 0.4)
    return Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
      payload(random, realPid, depth + 1),
    );
  const out: Record<string, unknown> = {};
  for (let i = 0; i < 1 + Math.floor(random() * 5); i++) {
    const key = pick([word(), pid, `${word()}_${pid}`, 'platform_id', `k${i}`]);
    out[key] = payload(random, realPid, depth + 1);
  }
  return out;
}

describe('platform id never reaches a kiosk (property, e2e)', () => {
  let relay: UpstreamApps;
  let t: TestApp;
  let upstream: FakeUpstream;
  beforeAll(async () => {
    relay = await startUpstreamApps({
      env: { RELAY_RATE_PER_SECOND: '10000', RELAY_RATE_BURST: '10000' },
    });
    ({ t, upstream } = relay);
  });
  afterAll(() => relay.close());

  it.each([1, 2, 3])(
    'should strip it from 300 random nested to_device payloads (seed %i)',
    async (seed) => {
      const random = prng(seed);
      const pid = platformIdFrom(random);
      const kiosk = await TestKiosk.registered(t, `TEE-PROP-${seed}`);
      const session = await openSession(t, pid);
      const { mobile, device } = await pair(t, t, kiosk, session);
      const count = 300;
      for (let i = 0; i < count; i++) {
        const data = payload(random, pid);
        mobile.send({
          type: 'to_device',
          data:
            typeof data === 'object' && data !== null && !Array.isArray(data) ? data : { v: data },
        });
      }
      for (let i = 0; i < count; i++) await device.next('from_mobile');
      expect(device.raw.length).toBeGreaterThanOrEqual(count);
      const leaks = device.raw.filter((text) => holdsPlatformId(text, pid));
      expect(leaks).toEqual([]);
      expect(mobile.frames.filter((f) => f.type === 'error')).toEqual([]);
      mobile.close();
      device.close();
    },
  );

  it('should strip it written with Kelvin signs, in frames passed on unparsed and in others', async () => {
    // U+212A lower-cases to an ASCII k: the id in non-ASCII text that no ASCII search finds
    const pid = 'PLT_kioskKelvin042';
    const kelvin = pid.replace(/k/gi, '\u212a');
    const kiosk = await TestKiosk.registered(t, 'TEE-PROP-KELVIN');
    const session = await openSession(t, pid);
    const { mobile, device } = await pair(t, t, kiosk, session);
    const notes = [kelvin, `a ${kelvin}`, pid.replace('k', '\u212a'), `${kelvin}😀`];
    const frames = [
      ...notes.map((note) => JSON.stringify({ type: 'to_device', data: { note } })),
      JSON.stringify({ type: 'to_device', data: { note: kelvin } }, null, 1),
      JSON.stringify({ type: 'to_device', data: { note: pid } }).replace('k', '\\u212a'),
    ];
    for (const frame of frames) mobile.send(frame);
    for (let i = 0; i < frames.length; i++) await device.next('from_mobile');
    const texts = device.raw.filter((text) => text.includes('from_mobile'));
    expect(texts).toHaveLength(frames.length);
    expect(texts.filter((text) => holdsPlatformId(text, pid))).toEqual([]);
    expect(texts.map((text) => JSON.parse(text).data.note)).toEqual([
      '[platform_id removed]',
      'a [platform_id removed]',
      '[platform_id removed]',
      '[platform_id removed]😀',
      '[platform_id removed]',
      '[platform_id removed]',
    ]);
    mobile.close();
    device.close();
  });

  it('should pass on numbers equal to a digits-only platform id suffix (PLT_1765135200), to either kiosk', async () => {
    // the bare suffix is a removed form only when it holds a letter: a timestamp is not an id
    const pid = 'PLT_1765135200';
    const kiosk = await TestKiosk.registered(t, 'TEE-PROP-DIGITS');
    const session = await openSession(t, pid);
    const { mobile, device } = await pair(t, t, kiosk, session);
    mobile.send({ type: 'to_device', data: { ts: 1765135200123, note: 'at 1765135200' } });
    expect((await device.next('from_mobile')).data).toEqual({
      ts: 1765135200123,
      note: 'at 1765135200',
    });
    // the leak finder holds the same rule: the bare number is no leak, every disguise still is
    // (but a NUL after the underscore: what follows it is the bare number the rule lets pass)
    expect(device.raw.filter((text) => holdsPlatformId(text, pid))).toEqual([]);
    for (const form of disguises(pid).filter((form) => !form.includes('_\u0000')))
      expect([form, holdsPlatformId(`{"v":"${form}"}`, pid)]).toEqual([form, true]);
    mobile.close();
    device.close();
    const auth = await http(t.baseUrl, 'POST', '/auth', { body: { api_key: t.keys.hardware } });
    const hardware = await TestSocket.open(`${t.wsUrl}/ws/hardware?token=${auth.body.token}`);
    await hardware.next('joined');
    const app = await TestSocket.open(`${t.wsUrl}/ws/app?token=${auth.body.token}`);
    await app.next('joined');
    app.send({ type: 'to_hardware', data: { platform_id: pid } });
    const alias = (await hardware.next('from_app')).data.platform_id as string;
    upstream.behaviour = () => ({
      status: 200,
      body: { status: 'success', code: 1765135200123, message: 'ok' },
    });
    hardware.send({
      type: 'to_backend',
      data: { platform_id: alias, image_base64: fakeJpeg().toString('base64') },
    });
    const answer = await hardware.next('backend_response');
    expect(JSON.stringify(answer.data)).toContain('1765135200123');
    expect(hardware.raw.filter((text) => holdsPlatformId(text, pid))).toEqual([]);
    app.close();
    hardware.close();
  });

  it.each([4, 5, 6])(
    'should keep it from the legacy hardware in 200 random to_hardware payloads and an echoing upstream answer (seed %i)',
    async (seed) => {
      const random = prng(seed);
      const pid = platformIdFrom(random);
      const auth = await http(t.baseUrl, 'POST', '/auth', { body: { api_key: t.keys.hardware } });
      const hardware = await TestSocket.open(`${t.wsUrl}/ws/hardware?token=${auth.body.token}`);
      await hardware.next('joined');
      const app = await TestSocket.open(`${t.wsUrl}/ws/app?token=${auth.body.token}`);
      await app.next('joined');
      app.send({ type: 'to_hardware', data: { platform_id: pid } });
      const alias = (await hardware.next('from_app')).data.platform_id as string;
      const count = 200;
      for (let i = 0; i < count; i++) {
        const data = payload(random, pid);
        app.send({
          type: 'to_hardware',
          data:
            typeof data === 'object' && data !== null && !Array.isArray(data) ? data : { v: data },
        });
      }
      // a top-level data.platform_id other than the session's is refused, not relayed
      app.send({ type: 'ping' });
      await app.next('pong');
      const refused = app.frames.filter((f) => f.type === 'error');
      expect(
        refused.filter((f) => f.code !== 'platform_id_already_set' && f.code !== 'invalid_message'),
      ).toEqual([]);
      for (let i = 0; i < count - refused.length; i++) await hardware.next('from_app');
      // the upstream echoes the id in random forms in every field it has
      upstream.behaviour = () => ({
        status: 200,
        body: {
          status: 'success',
          code: pick(random, disguises(pid)),
          message: `hi ${pick(random, disguises(pid))}`,
          echo: payload(random, pid),
        },
      });
      hardware.send({
        type: 'to_backend',
        data: { platform_id: alias, image_base64: fakeJpeg().toString('base64') },
      });
      await hardware.next('backend_response');
      expect(hardware.raw.filter((text) => holdsPlatformId(text, pid))).toEqual([]);
      app.close();
      hardware.close();
    },
  );
});

function pick<T>(random: () => number, items: T[]): T {
  return items[Math.floor(random() * items.length)];
}
