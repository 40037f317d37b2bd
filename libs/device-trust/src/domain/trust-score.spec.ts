import { computeTrustScore, isPrivateIp, parseVersion, TrustInput } from './trust-score';

const NOW = new Date('2026-03-01T00:00:00Z');
const DAY = 86_400_000;

function input(overrides: Partial<TrustInput> = {}): TrustInput {
  return {
    now: NOW,
    device: {
      deviceId: 'd1',
      createdAt: new Date(NOW.getTime() - 2 * DAY),
      isBlocked: false,
      fingerprint: { os: 'Android 14', model: 'Redmi Note 12', simHash: 'sim' },
    },
    baseline: { score: 50, detail: 'own' },
    fraudEvents: [],
    settings: { minAppVersion: '1.2.0', fraudWindowDays: 30, fraudPenaltyCap: 60 },
    ...overrides,
  };
}

describe('computeTrustScore', () => {
  it('should give the same score and factors for the same inputs', () => {
    const sut = () =>
      computeTrustScore(
        input({
          fraudEvents: [{ type: 'impossible_travel', at: new Date(NOW.getTime() - 3 * DAY) }],
          request: { userAgent: 'okhttp', appVersion: '1.3', ip: '203.0.113.9' },
        }),
      );
    expect(sut()).toEqual(sut());
  });

  it('should fade a fraud event linearly over the window and ignore it after', () => {
    const at = (days: number) =>
      computeTrustScore(
        input({
          fraudEvents: [{ type: 'impossible_travel', at: new Date(NOW.getTime() - days * DAY) }],
        }),
      ).score;
    expect(at(0)).toBe(40);
    expect(at(15)).toBe(45);
    expect(at(30)).toBe(50);
  });

  it('should cap each type at 3x its weight and the whole history at the cap', () => {
    const many = (type: string, n: number) => Array.from({ length: n }, () => ({ type, at: NOW }));
    expect(computeTrustScore(input({ fraudEvents: many('rapid_repeat', 50) })).score).toBe(47);
    const all = [
      ...many('impossible_travel', 5),
      ...many('shared_device', 5),
      ...many('invalid_signature', 5),
    ];
    const result = computeTrustScore(input({ fraudEvents: all }));
    expect(result.factors.find((f) => f.name === 'fraud_history')?.effect).toBe(-60);
    expect(result.score).toBe(0);
  });

  it('should weigh packet_flood outside the penalty cap: a worker phone at its best falls under the auto-block floor (20)', () => {
    const best = (fraudEvents: TrustInput['fraudEvents']) =>
      computeTrustScore(
        input({
          device: {
            ...input().device,
            createdAt: new Date(NOW.getTime() - 40 * DAY),
            lastIp: '203.0.113.9',
          },
          fraudEvents,
          request: {
            userAgent: 'MDAI-Worker/1.4.0 (Android 14; Redmi Note 12)',
            appVersion: '1.4.0',
            deviceIdHeader: 'd1',
            ip: '203.0.113.9',
          },
        }),
      );
    const malformed = Array.from({ length: 50 }, () => ({ type: 'malformed_packet', at: NOW }));
    // 50 + 10 (age) + 20 (headers and address) - 6 (malformed_packet capped at 3 x 2)
    expect(best(malformed).score).toBe(74);
    const flooded = best([...malformed, { type: 'packet_flood', at: NOW }]);
    expect(flooded.score).toBe(14);
    expect(flooded.factors.find((f) => f.name === 'packet_flood')?.effect).toBe(-60);
    // at most 3 count
    const four = Array.from({ length: 4 }, () => ({ type: 'packet_flood', at: NOW }));
    expect(best(four).factors.find((f) => f.name === 'packet_flood')?.effect).toBe(-180);
  });

  it('should score the request headers against the registration', () => {
    const effects = (request: TrustInput['request']) =>
      Object.fromEntries(
        computeTrustScore(input({ request })).factors.map((f) => [f.name, f.effect]),
      );
    expect(
      effects({
        userAgent: 'MDAI/2 (Android 14; Redmi Note 12)',
        appVersion: '1.2.0',
        deviceIdHeader: 'd1',
        ip: '10.0.0.4',
      }),
    ).toMatchObject({ user_agent: 5, app_version: 5, device_id_header: 5, ip: 0 });
    expect(
      effects({
        userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)',
        appVersion: '1.1.9',
        deviceIdHeader: 'd2',
      }),
    ).toMatchObject({ user_agent: -20, app_version: -10, device_id_header: -30, ip: 0 });
    expect(effects({ userAgent: 'curl/8.0', appVersion: 'latest' })).toMatchObject({
      user_agent: -5,
      app_version: -10,
    });
    expect(effects({})).toMatchObject({ user_agent: 0, app_version: 0, device_id_header: 0 });
  });

  it('should compare a public address with the last one seen', () => {
    const ip = (current: string, lastIp?: string) =>
      computeTrustScore(
        input({ device: { ...input().device, lastIp }, request: { ip: current } }),
      ).factors.find((f) => f.name === 'ip')?.effect;
    expect(ip('203.0.113.9')).toBe(0);
    expect(ip('203.0.113.9', '203.0.113.9')).toBe(5);
    expect(ip('203.0.113.9', '198.51.100.2')).toBe(-5);
  });

  it('should add points with the device age and give 0 to a blocked device', () => {
    const aged = (days: number) =>
      computeTrustScore(
        input({ device: { ...input().device, createdAt: new Date(NOW.getTime() - days * DAY) } }),
      ).score;
    expect([aged(6.99), aged(7), aged(29.99), aged(30)]).toEqual([50, 55, 55, 60]);
    const blocked = computeTrustScore(input({ device: { ...input().device, isBlocked: true } }));
    expect(blocked.score).toBe(0);
    expect(blocked.factors.at(-1)).toEqual({
      name: 'block_state',
      effect: -50,
      detail: 'the device is blocked',
    });
  });

  it('should never show the block as raising the score (review LOW-7)', () => {
    // the factors sum below 0 (a low baseline, request signals against it): the block took the
    // sum, negated, as its effect, which read as a positive factor
    const blocked = computeTrustScore(
      input({
        device: { ...input().device, isBlocked: true },
        baseline: { score: 0, detail: 'own' },
        request: { userAgent: 'curl/8', appVersion: '0.1.0', deviceIdHeader: 'other' },
      }),
    );
    const factors = blocked.factors.filter((f) => f.name !== 'block_state');
    expect(factors.reduce((sum, f) => sum + f.effect, 0)).toBeLessThan(0);
    expect(blocked.score).toBe(0);
    expect(blocked.factors.at(-1)).toEqual({
      name: 'block_state',
      effect: 0,
      detail: 'the device is blocked',
    });
  });

  it('should parse versions and recognise private addresses', () => {
    expect(parseVersion('v1.4')).toEqual([1, 4, 0]);
    expect(parseVersion('2.0.1-beta')).toEqual([2, 0, 1]);
    expect(parseVersion('one')).toBeUndefined();
    expect(
      ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '::1', '::ffff:10.0.0.1'].every(
        isPrivateIp,
      ),
    ).toBe(true);
    expect(['8.8.8.8', '172.32.0.1', '2001:db8::1'].some(isPrivateIp)).toBe(false);
  });
});
