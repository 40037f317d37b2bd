import { TestKiosk } from './support/kiosk';
import { openSession, pair } from './support/pairing';
import { startTestApp, TestApp } from './support/test-app';

/** A small seeded PRNG so a failure can be replayed (the seed is in the test name). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random JSON with the platform id planted in keys, values, array items and inside strings. */
function payload(random: () => number, pid: string, depth = 0): unknown {
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
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
      () => `${pid}${pid}`,
      () => word(),
      () => Math.floor(random() * 1000),
      () => random() < 0.5,
      () => null,
    ])();
  if (depth > 4 || random() < 0.25) return leaf();
  if (random() < 0.4)
    return Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
      payload(random, pid, depth + 1),
    );
  const out: Record<string, unknown> = {};
  for (let i = 0; i < 1 + Math.floor(random() * 5); i++) {
    const key = pick([word(), pid, `${word()}_${pid}`, 'platform_id', `k${i}`]);
    out[key] = payload(random, pid, depth + 1);
  }
  return out;
}

describe('platform id never reaches a kiosk (property, e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RELAY_RATE_PER_SECOND: '10000', RELAY_RATE_BURST: '10000' });
  });
  afterAll(async () => t.close());

  it.each([1, 2, 3])(
    'should strip it from 300 random nested to_device payloads (seed %i)',
    async (seed) => {
      const random = prng(seed);
      const pid = `PLT_${Math.floor(random() * 1e9).toString(36)}Zq9`;
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
      const leaks = device.raw.filter((text) => text.includes(pid));
      expect(leaks).toEqual([]);
      expect(mobile.frames.filter((f) => f.type === 'error')).toEqual([]);
      mobile.close();
      device.close();
    },
  );
});
