import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { IssuedToken } from './issued-token.repository';
import { issuedTokenAdapters, workerDeviceAdapters } from './worker-persistence';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';

const DAY = 86_400_000;

describeStoreContract('IssuedTokenRepository', issuedTokenAdapters, ({ sut, store }) => {
  // relative to the wall clock: on MongoDB a TTL index drops records past their window
  let now: Date;
  const token = (overrides: Partial<IssuedToken> = {}): IssuedToken => ({
    deviceId: 'a'.repeat(24),
    tokenId: crypto.randomUUID(),
    keyId: '0123456789abcdef',
    issuedAt: now,
    expiresAt: new Date(now.getTime() + 30 * DAY),
    digest: 'd'.repeat(64),
    keepUntil: new Date(now.getTime() + 44 * DAY),
    ...overrides,
  });
  beforeEach(() => {
    now = new Date();
  });

  it('should hold a recorded token under its device, jti and digest only', async () => {
    const t = token();
    await sut().record(t, now);
    expect(await sut().isOnRecord(t.deviceId, t.tokenId, t.digest)).toBe(true);
    expect(await sut().isOnRecord('b'.repeat(24), t.tokenId, t.digest)).toBe(false);
    expect(await sut().isOnRecord(t.deviceId, t.tokenId, 'e'.repeat(64))).toBe(false);
    expect(await sut().isOnRecord(t.deviceId, crypto.randomUUID(), t.digest)).toBe(false);
  });

  it('should purge the records past their window when it records', async () => {
    const old = token({ keepUntil: new Date(now.getTime() + 1000) });
    await sut().record(old, now);
    const later = new Date(now.getTime() + 2000);
    await sut().record(token(), later);
    expect(await sut().isOnRecord(old.deviceId, old.tokenId, old.digest)).toBe(false);
  });

  it('should fix when recording began at the first call: the epoch on a store with no device', async () => {
    expect(await sut().recordingSince(now)).toEqual(new Date(0));
    expect(await sut().recordingSince(new Date(now.getTime() + DAY))).toEqual(new Date(0));
  });

  it('should fix when recording began at the first call: then, on a store with devices', async () => {
    const devices = await compileAdapter(store(), workerDeviceAdapters);
    try {
      await devices.adapter.register(
        {
          id: 'c'.repeat(24),
          deviceId: 'a'.repeat(24),
          user: { kind: 'worker', id: 'w'.repeat(24) },
          siteIds: [],
          fingerprint: { os: 'Android 14', model: 'Redmi', simHash: 'f00d' },
          sealedSecret: 'v1:sealed',
          trustScore: 50,
          isBlocked: false,
          createdAt: now,
        },
        { id: 'e'.repeat(24), deviceId: 'a'.repeat(24), action: 'registered', actor: 'x', at: now },
      );
    } finally {
      await devices.close();
    }
    const results = await Promise.all([sut().recordingSince(now), sut().recordingSince(now)]);
    expect(results).toEqual([now, now]);
    expect(await sut().recordingSince(new Date(now.getTime() + DAY))).toEqual(now);
  });

  it('should keep one reopened window, a later one replacing it', async () => {
    expect(await sut().reopened()).toBeUndefined();
    const window = {
      since: new Date(now.getTime() - DAY),
      openedAt: now,
      until: new Date(now.getTime() + 45 * DAY),
      keyId: '0123456789abcdef',
    };
    await sut().reopen(window);
    expect(await sut().reopened()).toEqual(window);
    const later = {
      ...window,
      since: new Date(now.getTime() - 2 * DAY),
      keyId: 'fedcba9876543210',
    };
    await sut().reopen(later);
    expect(await sut().reopened()).toEqual(later);
  });

  it('should adopt a token once: the same token again holds, another with its jti does not', async () => {
    const t = token();
    const results = await Promise.all([sut().adopt(t, now), sut().adopt(t, now)]);
    expect(results).toEqual([true, true]);
    expect(await sut().isOnRecord(t.deviceId, t.tokenId, t.digest)).toBe(true);
    const other = { ...t, digest: 'e'.repeat(64) };
    expect(await sut().adopt(other, now)).toBe(false);
    expect(await sut().isOnRecord(t.deviceId, t.tokenId, other.digest)).toBe(false);
    expect(await sut().isOnRecord(t.deviceId, t.tokenId, t.digest)).toBe(true);
  });
});
