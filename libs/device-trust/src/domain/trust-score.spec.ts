import { PACKET_FLOOD_TYPES, UNSIGNED_REJECTION_TYPES } from '@app/fraud/domain/fraud-event';
import { TRUST_DEFAULTS } from '@app/workforce/domain/trust-defaults';
import { trustConfig } from '../trust.config';
import {
  computeTrustScore,
  FRAUD_WEIGHTS,
  isPrivateIp,
  parseVersion,
  TrustInput,
  UNSIGNED_PENALTY_CAP,
  unsignedPenaltyCap,
  floorScore,
  blockReasonFactors,
} from './trust-score';

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
    settings: {
      minAppVersion: '1.2.0',
      fraudWindowDays: 30,
      fraudPenaltyCap: 60,
      autoBlockFloor: 20,
    },
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
      ...many('packet_id_conflict', 5),
    ];
    const result = computeTrustScore(input({ fraudEvents: all }));
    expect(result.factors.find((f) => f.name === 'fraud_history')?.effect).toBe(-60);
    expect(result.score).toBe(0);
  });

  describe('unsigned rejections (the bearer token alone sends them)', () => {
    const defaults = trustConfig.read({});
    const floor = defaults.autoBlockFloor;
    const many = (type: string, n: number) => Array.from({ length: n }, () => ({ type, at: NOW }));
    const unsignedTypes = [...UNSIGNED_REJECTION_TYPES];
    /** Every non-empty set of the unsigned types (each at its maximum below). */
    const worstCases = [1, 2, 3, 4, 5, 6, 7].map((set) =>
      unsignedTypes.filter((_, i) => set & (1 << i)),
    );
    const fresh = (
      baseline: number,
      fraudEvents: TrustInput['fraudEvents'],
      autoBlockFloor = defaults.autoBlockFloor,
    ) =>
      computeTrustScore(
        input({
          device: { ...input().device, createdAt: NOW },
          baseline: { score: baseline, detail: 'fresh' },
          fraudEvents,
          settings: {
            minAppVersion: defaults.minAppVersion,
            fraudWindowDays: defaults.fraudWindowDays,
            fraudPenaltyCap: defaults.fraudPenaltyCap,
            autoBlockFloor,
          },
        }),
      );

    it('are the rejections decided before or without the HMAC, weigh, and never flood', () => {
      expect([...UNSIGNED_REJECTION_TYPES].sort()).toEqual([
        'device_mismatch',
        'invalid_signature',
        'malformed_packet',
      ]);
      for (const type of UNSIGNED_REJECTION_TYPES) {
        expect(FRAUD_WEIGHTS[type]).toBeGreaterThan(0);
        expect(PACKET_FLOOD_TYPES.has(type)).toBe(false);
      }
    });

    it("should never take a fresh worker's or thekedar's phone under the auto-block floor by themselves", () => {
      expect(worstCases).toHaveLength(7);
      for (const [person, baseline] of [
        ['worker', TRUST_DEFAULTS.workerByAdmin],
        ['thekedar', TRUST_DEFAULTS.thekedar],
      ] as const) {
        for (const types of worstCases) {
          const score = fresh(
            baseline,
            types.flatMap((type) => many(type, 100)),
          ).score;
          expect({ person, types, atLeastFloor: score >= floor }).toEqual({
            person,
            types,
            atLeastFloor: true,
          });
        }
      }
      // all three at their maximum: 50 - 15 = 35 (half its room) and 80 - 30 = 50, not under the
      // floor (20); per type (24 + 24 + 6 = 54, the old formula) a worker's phone was at 0
      const all = unsignedTypes.flatMap((type) => many(type, 100));
      expect(fresh(TRUST_DEFAULTS.workerByAdmin, all).score).toBe(floor + 15);
      expect(fresh(TRUST_DEFAULTS.thekedar, all).score).toBe(80 - UNSIGNED_PENALTY_CAP);
    });

    it('should take at most half the room a fresh phone has above a configured floor', () => {
      const all = unsignedTypes.flatMap((type) => many(type, 100));
      // half the room a fresh worker's phone has above the floor ((50 - floor) / 2, rounded
      // down, never negative), at most 30: the other half is left to signed evidence, so one
      // ordinary honest event never tips a phone they took down (integrator finding 2)
      for (const [configured, cap] of [
        [0, 25],
        [10, 20],
        [20, 15],
        [21, 14],
        [35, 7],
        [50, 0],
        [80, 0],
      ]) {
        expect([configured, unsignedPenaltyCap(TRUST_DEFAULTS.workerByAdmin, configured)]).toEqual([
          configured,
          cap,
        ]);
        for (const types of worstCases) {
          const result = fresh(
            TRUST_DEFAULTS.workerByAdmin,
            types.flatMap((type) => many(type, 100)),
            configured,
          );
          // (a floor above 50 is above a fresh worker's phone without them: they take nothing)
          const floorOrBaseline = Math.min(configured, TRUST_DEFAULTS.workerByAdmin);
          // and half the room is left: (50 - floor) / 2, rounded up
          const margin = Math.ceil(Math.max(0, TRUST_DEFAULTS.workerByAdmin - configured) / 2);
          expect({
            configured,
            types,
            atLeastFloor: result.score >= floorOrBaseline,
            halfLeft: result.score - floorOrBaseline >= margin,
          }).toEqual({ configured, types, atLeastFloor: true, halfLeft: true });
        }
        const worker = fresh(TRUST_DEFAULTS.workerByAdmin, all, configured);
        expect(worker.score).toBe(50 - cap);
        expect(worker.factors.find((f) => f.name === 'unsigned_rejections')).toMatchObject({
          effect: cap === 0 ? 0 : -cap,
          detail: expect.stringContaining(
            `together at most ${cap}: half the room above the auto-block floor, never enough alone`,
          ),
        });
      }
    });

    it("should follow the device's own baseline: an inherited one under 50 keeps half its room", () => {
      const all = unsignedTypes.flatMap((type) => many(type, 100));
      // a worker a thekedar onboarded stands on the thekedar device's score (review LOW: at 35
      // the cap of 30 left it at 5, under the floor); half the room, never negative, at most 30
      for (const [baseline, cap] of [
        [35, 7],
        [21, 0],
        [20, 0],
        [10, 0],
        [49, 14],
        [50, 15],
        [68, 24],
        [80, 30],
      ]) {
        expect([baseline, unsignedPenaltyCap(baseline, floor)]).toEqual([baseline, cap]);
        for (const types of worstCases) {
          const result = fresh(
            baseline,
            types.flatMap((type) => many(type, 100)),
          );
          expect({ baseline, types, atLeast: result.score >= Math.min(floor, baseline) }).toEqual({
            baseline,
            types,
            atLeast: true,
          });
        }
        expect(fresh(baseline, all).score).toBe(baseline - cap);
      }
    });

    it('should still lower the score, as a factor of their own that says why', () => {
      // the token-only repro: three forged HMACs, three packets naming another device
      const result = fresh(TRUST_DEFAULTS.workerByAdmin, [
        ...many('invalid_signature', 3),
        ...many('device_mismatch', 3),
        ...many('malformed_packet', 5),
      ]);
      expect(result.factors.slice(2, 4)).toEqual([
        {
          name: 'fraud_history',
          effect: 0,
          detail:
            'no fraud events in the last 30 days but unsigned rejections (unsigned_rejections)',
        },
        {
          name: 'unsigned_rejections',
          effect: -15,
          detail: `device_mismatch x3, invalid_signature x3, malformed_packet x5 in the last 30 days: sync rejections decided before or without the device's signature (the bearer token alone sends them), weighted by type and recency, together at most 15: half the room above the auto-block floor, never enough alone to block a device`,
        },
      ]);
      // 50 - 15: 15 above the floor (20), which one honest timestamp_in_future (3) never crosses
      expect(result.score).toBe(35);
      const withSkew = fresh(TRUST_DEFAULTS.workerByAdmin, [
        ...many('invalid_signature', 20),
        ...many('malformed_packet', 20),
        ...many('timestamp_in_future', 1),
      ]);
      expect(withSkew.score).toBe(32);
      // one of them weighs as before (8, fading over the window)
      const one = fresh(TRUST_DEFAULTS.workerByAdmin, many('invalid_signature', 1));
      expect(one.factors.find((f) => f.name === 'unsigned_rejections')?.effect).toBe(-8);
      expect(one.score).toBe(42);
    });

    it('should count within the penalty cap, and leave signed misbehaviour its weights', () => {
      const signed = [...many('worker_mismatch', 3), ...many('packet_id_conflict', 3)];
      const alone = fresh(TRUST_DEFAULTS.thekedar, signed);
      expect(alone.factors.find((f) => f.name === 'fraud_history')).toMatchObject({
        effect: -48,
        detail:
          'packet_id_conflict x3, worker_mismatch x3 in the last 30 days, weighted by type and recency',
      });
      expect(alone.factors.find((f) => f.name === 'unsigned_rejections')).toBeUndefined();
      // with the unsigned ones at their cap (30), the history takes the cap's other 30
      const both = fresh(TRUST_DEFAULTS.thekedar, [
        ...signed,
        ...many('invalid_signature', 3),
        ...many('device_mismatch', 3),
      ]);
      const effects = Object.fromEntries(both.factors.map((f) => [f.name, f.effect]));
      expect(effects).toMatchObject({ fraud_history: -30, unsigned_rejections: -30 });
      expect(both.score).toBe(80 - defaults.fraudPenaltyCap);
      // a cap under UNSIGNED_PENALTY_CAP holds for them too
      const small = computeTrustScore(
        input({
          fraudEvents: [...many('invalid_signature', 3), ...signed],
          settings: { ...input().settings, fraudPenaltyCap: 10 },
        }),
      );
      expect(Object.fromEntries(small.factors.map((f) => [f.name, f.effect]))).toMatchObject({
        fraud_history: 0,
        unsigned_rejections: -10,
      });
    });
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

describe('floorScore', () => {
  const hostile = {
    userAgent: 'MDAI-Worker/1.4.0 (iOS 17; iPhone 13)',
    appVersion: '1.4.0',
    deviceIdHeader: 'another-device',
  };

  it("should drop the request's negative factors unless proven, and its positive ones always", () => {
    const trust = computeTrustScore(
      input({ fraudEvents: [{ type: 'impossible_travel', at: NOW }], request: hostile }),
    );
    // 50 - 10 (impossible_travel) - 20 (iOS vs Android) + 5 (app version) - 30 (x-device-id)
    expect(trust.score).toBe(0);
    // unproven: 50 - 10, the headers count neither way
    const unproven = floorScore(trust, false);
    expect(unproven.score).toBe(40);
    expect(unproven.factors.map((f) => f.name)).not.toContain('app_version');
    // proven: 50 - 10 - 20 - 30, the app version's +5 still left out
    expect(floorScore(trust, true).score).toBe(0);
  });

  it("should judge a device under the floor as under it whatever the request's headers add", () => {
    // the integrator's phone 1: its device score under the floor (the admin's view), the app's
    // headers (+15) taking the request above it
    const trust = computeTrustScore(
      input({
        fraudEvents: [
          ...Array.from({ length: 3 }, () => ({ type: 'packet_id_conflict', at: NOW })),
          ...Array.from({ length: 2 }, () => ({ type: 'invalid_signature', at: NOW })),
        ],
        request: {
          userAgent: 'MdaiWorker/1.4 (Android 14; Redmi Note 12)',
          appVersion: '1.4.0',
          deviceIdHeader: 'd1',
        },
      }),
    );
    // 50 - 24 - 15 + 15: the request above the floor (20), the device under it
    expect(trust.score).toBe(26);
    for (const proven of [false, true]) expect(floorScore(trust, proven).score).toBe(11);
  });
});

describe('blockReasonFactors', () => {
  it('should name the signed evidence first and the unsigned rejections last', () => {
    const trust = computeTrustScore(
      input({
        fraudEvents: [
          ...Array.from({ length: 40 }, () => ({ type: 'invalid_signature', at: NOW })),
          ...Array.from({ length: 3 }, () => ({ type: 'timestamp_in_future', at: NOW })),
          ...Array.from({ length: 2 }, () => ({ type: 'outside_geofence', at: NOW })),
        ],
      }),
    );
    // unsigned −15 (their most) before the signed −9 and −6 by size
    expect(trust.factors.find((f) => f.name === 'unsigned_rejections')?.effect).toBe(-15);
    const reason = blockReasonFactors(trust);
    expect(reason.indexOf('fraud_history -15')).toBe(0);
    expect(reason).toMatch(/; with unsigned_rejections -15 \(/);
  });
});
