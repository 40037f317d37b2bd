import { newId } from '@app/common';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { PairingSession } from '../../domain/pairing-session';
import { sessionAdapters } from './session-persistence';

function session(overrides: Partial<PairingSession> = {}): PairingSession {
  const now = new Date();
  return {
    id: newId(),
    protocol: 'pairing',
    userId: 'user-1',
    platformIdSealed: 'sealed1.v1.a.b.c',
    status: 'open',
    createdAt: now,
    expiresAt: new Date(now.getTime() + 180_000),
    ...overrides,
  };
}

describeStoreContract('SessionRepository', sessionAdapters, ({ sut }) => {
  it('should round-trip a session', async () => {
    const s = session();
    await sut().create(s);
    expect(await sut().findById(s.id)).toEqual(s);
    expect(await sut().findById(newId())).toBeUndefined();
  });

  it('should let exactly one of concurrent claims win, and none after completion', async () => {
    const s = session();
    await sut().create(s);
    const claims = await Promise.all(
      Array.from({ length: 10 }, () => sut().claimSubmission(s.id, new Date())),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    const at = new Date('2026-01-01T00:00:00.000Z');
    await sut().completeSubmission(s.id, { status: 'success', statusCode: 200, latencyMs: 42 }, at);
    const stored = await sut().findById(s.id);
    expect(stored).toMatchObject({
      status: 'completed',
      result: { status: 'success', statusCode: 200, latencyMs: 42 },
      completedAt: at,
    });
    expect(await sut().claimSubmission(s.id, new Date())).toBe(false);
  });

  it('should reopen a released submission and refuse claims after expiry', async () => {
    const s = session();
    await sut().create(s);
    expect(await sut().claimSubmission(s.id, new Date())).toBe(true);
    await sut().releaseSubmission(s.id);
    expect((await sut().findById(s.id))?.status).toBe('open');
    expect(await sut().claimSubmission(s.id, new Date(s.expiresAt.getTime() + 1))).toBe(false);
  });

  it("should spend a legacy session's app use once: one of concurrent spends, none after, none of a session gone", async () => {
    const s = session({ protocol: 'legacy', platformIdSealed: undefined, userId: undefined });
    await sut().create(s);
    const spends = await Promise.all(
      Array.from({ length: 5 }, () => sut().spendAppUse(s.id, new Date())),
    );
    expect(spends.filter(Boolean)).toHaveLength(1);
    expect(await sut().spendAppUse(s.id, new Date())).toBe(false);
    // the session reads as it was: the use is the relay's, not part of the session's record
    expect(await sut().findById(s.id)).toEqual(s);
    expect(await sut().spendAppUse(newId(), new Date())).toBe(false);
  });

  it('should record the platform alias, the device and the image', async () => {
    const s = session({ protocol: 'legacy', platformIdSealed: undefined, userId: undefined });
    await sut().create(s);
    await sut().setPlatformId(s.id, 'sealed1.v1.x.y.z', 'PLT_ALIAS_abc');
    await sut().setDevice(s.id, 'TEE-1');
    await sut().attachImage(s.id, 'f'.repeat(24));
    expect(await sut().findById(s.id)).toMatchObject({
      platformIdSealed: 'sealed1.v1.x.y.z',
      platformAlias: 'PLT_ALIAS_abc',
      deviceId: 'TEE-1',
      imageFileId: 'f'.repeat(24),
    });
  });

  it('should record a platform id and its alias once: a second write (another replica, another alias) leaves the first', async () => {
    const s = session({ protocol: 'legacy', platformIdSealed: undefined, userId: undefined });
    await sut().create(s);
    const sets = await Promise.all([
      sut().setPlatformId(s.id, 'sealed1.v1.a.a.a', 'PLT_ALIAS_a'),
      sut().setPlatformId(s.id, 'sealed1.v1.b.b.b', 'PLT_ALIAS_b'),
    ]);
    expect([...sets].sort()).toEqual([false, true]);
    const won = sets[0] ? 'a' : 'b';
    expect(await sut().findById(s.id)).toMatchObject({
      platformIdSealed: `sealed1.v1.${won}.${won}.${won}`,
      platformAlias: `PLT_ALIAS_${won}`,
    });
    expect(await sut().setPlatformId(s.id, 'sealed1.v1.c.c.c', 'PLT_ALIAS_c')).toBe(false);
    expect((await sut().findById(s.id))?.platformAlias).toBe(`PLT_ALIAS_${won}`);
  });

  it("should keep the phone's sealed outcome with the completion, and give it to exactly one of concurrent takes", async () => {
    const s = session();
    await sut().create(s);
    expect(await sut().claimSubmission(s.id, new Date())).toBe(true);
    const result = { status: 'failure' as const, statusCode: 404, latencyMs: 7 };
    await sut().completeSubmission(s.id, result, new Date(), 'sealed1.v1.o.u.t');
    expect(await sut().findById(s.id)).toMatchObject({
      status: 'completed',
      result,
      outcomeSealed: 'sealed1.v1.o.u.t',
    });
    const takes = await Promise.all(Array.from({ length: 10 }, () => sut().takeOutcome(s.id)));
    expect(takes.filter(Boolean)).toHaveLength(1);
    expect((await sut().findById(s.id))?.outcomeSealed).toBeUndefined();
    expect(await sut().takeOutcome(s.id)).toBe(false);
    expect((await sut().findById(s.id))?.result).toEqual(result);
  });

  it('should keep no outcome when none is given, and take none', async () => {
    const s = session();
    await sut().create(s);
    await sut().claimSubmission(s.id, new Date());
    await sut().completeSubmission(
      s.id,
      { status: 'success', statusCode: 200, latencyMs: 1 },
      new Date(),
    );
    expect((await sut().findById(s.id))?.outcomeSealed).toBeUndefined();
    expect(await sut().takeOutcome(s.id)).toBe(false);
    expect(await sut().takeOutcome(newId())).toBe(false);
  });

  it('should drop the outcomes of sessions expired before the cutoff only', async () => {
    const old = session({ expiresAt: new Date('2020-01-01T00:00:00Z') });
    const live = session();
    for (const x of [old, live]) {
      await sut().create(x);
      await sut().claimSubmission(x.id, new Date('2019-12-31T23:59:00Z'));
      await sut().completeSubmission(
        x.id,
        { status: 'success', statusCode: 200, latencyMs: 1 },
        new Date(),
        'sealed1.v1.k.e.p',
      );
    }
    expect(await sut().dropExpiredOutcomes(new Date('2021-01-01T00:00:00Z'))).toBe(1);
    expect((await sut().findById(old.id))?.outcomeSealed).toBeUndefined();
    expect((await sut().findById(old.id))?.status).toBe('completed');
    expect((await sut().findById(live.id))?.outcomeSealed).toBe('sealed1.v1.k.e.p');
  });

  it('should count the kept outcomes of sessions not expired by key version, apart from the platform ids', async () => {
    const old = session({ expiresAt: new Date('2020-01-01T00:00:00Z') });
    const live = [session(), session(), session()];
    const sealed = ['sealed1.v1.a.b.c', 'sealed1.v1.d.e.f', 'sealed1.v2.g.h.i', 'sealed1.v1.j.k.l'];
    for (const [i, x] of [old, ...live].entries()) {
      await sut().create(x);
      await sut().claimSubmission(x.id, new Date('2019-12-31T23:59:00Z'));
      await sut().completeSubmission(
        x.id,
        { status: 'success', statusCode: 200, latencyMs: 1 },
        new Date(),
        i === 3 ? undefined : sealed[i],
      );
    }
    const now = new Date('2021-01-01T00:00:00Z');
    // the expired one's outcome is never given again: not counted
    expect(await sut().countKeptOutcomesByVersion(now)).toEqual({ v1: 1, v2: 1 });
    await sut().takeOutcome(live[1].id);
    expect(await sut().countKeptOutcomesByVersion(now)).toEqual({ v1: 1 });
  });

  it('should delete sessions expired before the cutoff', async () => {
    const old = session({ expiresAt: new Date('2020-01-01T00:00:00Z') });
    await sut().create(old);
    await sut().create(session());
    expect(await sut().deleteExpired(new Date('2021-01-01T00:00:00Z'))).toBe(1);
  });
  it('should list sealed values not under a key version by key, and swap one only while unchanged', async () => {
    const a = session({ platformIdSealed: 'sealed1.v1.a.b.c' });
    const b = session({ platformIdSealed: 'sealed1.v2.a.b.c' });
    const c = session({ platformIdSealed: 'sealed1.v10.a.b.c' });
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
