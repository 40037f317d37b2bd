import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { IssuedToken } from './issued-token.repository';
import { issuedTokenAdapters, workerDeviceAdapters } from './worker-persistence';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { SqliteStore } from '@app/persistence';

const DAY = 86_400_000;

describeStoreContract('IssuedTokenRepository', issuedTokenAdapters, ({ sut, store, driver }) => {
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

  it('should keep a device to the bound: the records no sync presented go first, each kind oldest first, never the new one', async () => {
    const deviceId = 'f'.repeat(24);
    const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000);
    const t = [0, 1, 2, 3, 4, 5].map((i) => token({ deviceId, issuedAt: at(i) }));
    const onRecord = async () => {
      const held: number[] = [];
      for (const [i, x] of t.entries())
        if (await sut().isOnRecord(x.deviceId, x.tokenId, x.digest)) held.push(i);
      return held;
    };
    expect(await sut().record(t[0], now, 3)).toBe(0);
    expect(await sut().presented(deviceId, t[0].tokenId, t[0].digest)).toBe(true);
    expect(await sut().presented(deviceId, crypto.randomUUID(), t[0].digest)).toBe(false);
    expect(await sut().record(t[1], now, 3)).toBe(0);
    expect(await sut().record(t[2], now, 3)).toBe(0);
    // a fourth: the oldest not presented goes (1), the presented one (0) stays
    expect(await sut().record(t[3], now, 3)).toBe(1);
    expect(await onRecord()).toEqual([0, 2, 3]);
    // another device's records are not counted
    await sut().record(token(), now, 3);
    await sut().presented(deviceId, t[2].tokenId, t[2].digest);
    await sut().presented(deviceId, t[3].tokenId, t[3].digest);
    // every other record presented: the oldest presented goes, never the new one
    expect(await sut().record(t[4], now, 3)).toBe(1);
    expect(await onRecord()).toEqual([2, 3, 4]);
    // no bound given: nothing goes
    expect(await sut().record(t[5], now)).toBe(0);
    expect(await onRecord()).toEqual([2, 3, 4, 5]);
  });

  it('should count an adopted token as presented', async () => {
    const deviceId = 'e'.repeat(24);
    const adopted = token({ deviceId, issuedAt: new Date(now.getTime() - 60_000) });
    expect(await sut().adopt(adopted, now)).toBe(true);
    const fresh = token({ deviceId });
    await sut().record(fresh, now, 2);
    const later = new Date(now.getTime() + 1000);
    expect(await sut().record(token({ deviceId, issuedAt: later }), now, 2)).toBe(1);
    expect(await sut().isOnRecord(deviceId, adopted.tokenId, adopted.digest)).toBe(true);
    expect(await sut().isOnRecord(deviceId, fresh.tokenId, fresh.digest)).toBe(false);
  });

  it('should keep both of two tokens issued to one device at once at the bound', async () => {
    const deviceId = 'c'.repeat(24);
    const older = [1, 2].map((m) =>
      token({ deviceId, issuedAt: new Date(now.getTime() - m * 60_000) }),
    );
    for (const t of older) {
      await sut().record(t, now, 2);
      await sut().presented(deviceId, t.tokenId, t.digest);
    }
    // two refreshes in the same second (`iat` is whole seconds): neither drops the other
    const [a, b] = [token({ deviceId }), token({ deviceId })];
    await Promise.all([sut().record(a, now, 2), sut().record(b, now, 2)]);
    expect(await sut().isOnRecord(deviceId, a.tokenId, a.digest)).toBe(true);
    expect(await sut().isOnRecord(deviceId, b.tokenId, b.digest)).toBe(true);
    for (const t of older)
      expect(await sut().isOnRecord(deviceId, t.tokenId, t.digest)).toBe(false);
  });

  it('should not count a sync as presenting a record an issue dropped before its note', async () => {
    // SQLite only: the write turn orders the note after a queued issue deterministically (on
    // MongoDB the same order is a race; the note's update there is conditioned the same way)
    if (driver() !== 'sqlite') return;
    const deviceId = 'b'.repeat(24);
    const first = token({ deviceId, issuedAt: new Date(now.getTime() - 60_000) });
    await sut().record(first, now, 1);
    const turns = (store() as SqliteStore).writeTurns;
    let release!: () => void;
    const held = turns.hold(() => new Promise<void>((resolve) => (release = resolve)));
    // an issue waits for the turn, then a sync reads the record (not yet presented) and waits
    const issue = sut().record(token({ deviceId }), now, 1);
    const sync = sut().presented(deviceId, first.tokenId, first.digest);
    release();
    await held;
    expect(await issue).toBe(1);
    // the record went before the sync could note it: not on record for this sync either
    expect(await sync).toBe(false);
    expect(await sut().isOnRecord(deviceId, first.tokenId, first.digest)).toBe(false);
  });

  it('should keep a device to the bound when it adopts a token, as when it records one', async () => {
    const deviceId = 'd'.repeat(24);
    const at = (minutes: number) => new Date(now.getTime() - minutes * 60_000);
    const [old, newer] = [
      token({ deviceId, issuedAt: at(3) }),
      token({ deviceId, issuedAt: at(1) }),
    ];
    await sut().record(old, now, 2);
    await sut().record(newer, now, 2);
    const adopted = token({ deviceId, issuedAt: at(2) });
    expect(await sut().adopt(adopted, now, 2)).toBe(true);
    // the oldest unpresented one older than the adopted token goes; the newer one stays
    expect(await sut().isOnRecord(deviceId, old.tokenId, old.digest)).toBe(false);
    expect(await sut().isOnRecord(deviceId, newer.tokenId, newer.digest)).toBe(true);
    expect(await sut().isOnRecord(deviceId, adopted.tokenId, adopted.digest)).toBe(true);
  });
});
