import { newId, sha256 } from '@app/common';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { WifiChallenge } from '../../domain/wifi-challenge';
import { provisioningAdapters } from './provisioning-persistence';

function challenge(overrides: Partial<WifiChallenge> = {}): WifiChallenge {
  const now = new Date();
  return {
    id: newId(),
    deviceId: 'TEE-1',
    challenge: 'Y2lwaGVydGV4dA==',
    answerHash: sha256('answer'),
    wifiSsid: 'Site-7',
    wifiPasswordSealed: 'sealed1.v1.x.y.z',
    status: 'pending',
    wrongAttempts: 0,
    createdBy: 'admin:000000000000',
    createdAt: new Date(now.getTime() - 1000),
    expiresAt: new Date(now.getTime() + 600_000),
    ...overrides,
  };
}

describeStoreContract('WifiChallengeRepository', provisioningAdapters, ({ sut }) => {
  it('should round-trip a challenge, binary hash included', async () => {
    const c = challenge();
    await sut().create(c);
    expect(await sut().findById(c.id)).toEqual(c);
    expect(await sut().findById(newId())).toBeUndefined();
  });

  it('should round-trip the kiosk key and standing a challenge was issued under', async () => {
    const c = challenge({
      keyFingerprint: 'ab'.repeat(32),
      kioskChangedAt: new Date('2026-06-01T08:00:00.123Z'),
    });
    await sut().create(c);
    expect(await sut().findById(c.id)).toEqual(c);
  });

  it('should let exactly one of many concurrent markUsed calls win', async () => {
    const c = challenge();
    await sut().create(c);
    const results = await Promise.all(
      Array.from({ length: 12 }, () => sut().markUsed(c.id, new Date())),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const stored = await sut().findById(c.id);
    expect(stored?.status).toBe('used');
    expect(stored?.usedAt).toBeInstanceOf(Date);
  });

  it('should give back only the mark it is told of, and let it be marked once again', async () => {
    const c = challenge();
    await sut().create(c);
    const at = new Date('2026-06-01T08:00:00.000Z');
    expect(await sut().unmarkUsed(c.id, at)).toBe(false);
    expect(await sut().markUsed(c.id, at)).toBe(true);
    expect(await sut().unmarkUsed(c.id, new Date(at.getTime() + 1))).toBe(false);
    expect(await sut().unmarkUsed(c.id, at)).toBe(true);
    expect(await sut().unmarkUsed(c.id, at)).toBe(false);
    const back = await sut().findById(c.id);
    expect(back?.status).toBe('pending');
    expect(back?.usedAt).toBeUndefined();
    const results = await Promise.all(
      Array.from({ length: 12 }, () => sut().markUsed(c.id, new Date())),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('should not mark an expired or locked challenge used', async () => {
    const expired = challenge({ expiresAt: new Date(Date.now() - 1) });
    const locked = challenge({ status: 'locked' });
    await sut().create(expired);
    await sut().create(locked);
    expect(await sut().markUsed(expired.id, new Date())).toBe(false);
    expect(await sut().markUsed(locked.id, new Date())).toBe(false);
  });

  it('should count wrong answers atomically and lock at the limit', async () => {
    const c = challenge();
    await sut().create(c);
    await Promise.all(Array.from({ length: 8 }, () => sut().recordWrongAnswer(c.id, 5)));
    const stored = await sut().findById(c.id);
    expect(stored?.status).toBe('locked');
    expect(stored?.wrongAttempts).toBe(5);
    expect(await sut().markUsed(c.id, new Date())).toBe(false);
    expect(await sut().recordWrongAnswer(newId(), 5)).toBeUndefined();
  });

  it('should delete only challenges expired before the cutoff', async () => {
    const old = challenge({ expiresAt: new Date('2020-01-01T00:00:00Z') });
    const fresh = challenge();
    await sut().create(old);
    await sut().create(fresh);
    expect(await sut().deleteExpired(new Date('2021-01-01T00:00:00Z'))).toBe(1);
    expect(await sut().findById(old.id)).toBeUndefined();
    expect(await sut().findById(fresh.id)).toBeDefined();
  });
  it('should list sealed values not under a key version by key, and swap one only while unchanged', async () => {
    const a = challenge({ wifiPasswordSealed: 'sealed1.v1.a.b.c' });
    const b = challenge({ wifiPasswordSealed: 'sealed1.v2.a.b.c' });
    const c = challenge({ wifiPasswordSealed: 'sealed1.v10.a.b.c' });
    for (const x of [a, b, c]) await sut().create(x);
    const listed = await sut().listSealedNotUnder('v1', '', 10);
    expect(listed.map((v) => v.sealed).sort()).toEqual(['sealed1.v10.a.b.c', 'sealed1.v2.a.b.c']);
    const firstKey = [...listed].sort((x, y) => (x.key < y.key ? -1 : 1))[0].key;
    expect((await sut().listSealedNotUnder('v1', firstKey, 10)).length).toBe(1);
    expect(await sut().replaceSealed(b.id, 'sealed1.v9.stale.x.y', 'sealed1.v1.n.e.w')).toBe(false);
    expect(await sut().replaceSealed(b.id, 'sealed1.v2.a.b.c', 'sealed1.v1.n.e.w')).toBe(true);
    expect((await sut().listSealedNotUnder('v1', '', 10)).map((v) => v.key)).toEqual([c.id]);
  });
});
