import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { StoreMac } from '../../../store-mac';
import { parseStoreMacKey } from '../../../store-mac-keys';
import { STORE_MAC_LIVE_BEATS, StoreMacReplicas } from '../../../store-mac-replicas';
import { storeMacReplicaAdapters } from './store-mac-replica-persistence';

describeStoreContract('StoreMacReplicaRepository', storeMacReplicaAdapters, ({ sut }) => {
  const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute));
  const row = (replicaId: string, kid: string, minute: number) => ({
    replicaId,
    host: `host-${replicaId}`,
    kid,
    startedAt: at(0),
    seenAt: at(minute),
    heartbeatMs: 60_000,
  });

  it('should record, refresh and forget each server with its key id, host and times', async () => {
    await sut().record(row('b', 'k1', 1));
    await sut().record(row('a', 'k1', 2));
    expect(await sut().list()).toEqual([row('a', 'k1', 2), row('b', 'k1', 1)]);
    // a heartbeat refreshes the row (one per server)
    await sut().record({ ...row('a', 'k2', 5), heartbeatMs: 1000 });
    expect(await sut().list()).toEqual([
      { ...row('a', 'k2', 5), heartbeatMs: 1000 },
      row('b', 'k1', 1),
    ]);
    await sut().remove('b');
    await sut().remove('nobody');
    expect((await sut().list()).map((r) => r.replicaId)).toEqual(['a']);
  });

  it('should forget the servers last seen before a time, and only those', async () => {
    await sut().record(row('old', 'k1', 1));
    await sut().record(row('edge', 'k1', 3));
    await sut().record(row('new', 'k1', 4));
    expect(await sut().removeSeenBefore(at(3))).toBe(1);
    expect((await sut().list()).map((r) => r.replicaId)).toEqual(['edge', 'new']);
  });
});

/**
 * StoreMacReplicas over the store's rows: two servers on one store, each under its own
 * store-MAC key; which of the others are live and under another key (what keys:retag refuses on).
 */
describeStoreContract('StoreMacReplicas', storeMacReplicaAdapters, ({ sut }) => {
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  const server = (heartbeatMs: number) =>
    new StoreMacReplicas(
      sut(),
      new StoreMac({
        signingKey,
        storeMacKey: parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64')),
      }),
      { storeMacHeartbeatMs: heartbeatMs },
    );

  it('should name the other live servers under another key, never this one or one gone quiet, and forget one stopped', async () => {
    const old = server(60_000);
    const current = server(1_000);
    await old.onApplicationBootstrap();
    await current.onApplicationBootstrap();
    try {
      const currentKid = (await current.list()).find((r) => r.self)!.kid;
      const others = await current.liveOnOtherKeys();
      expect(others.map((r) => r.replicaId)).toEqual([old.replicaId]);
      expect(others[0]).toMatchObject({ live: true, self: false, heartbeatMs: 60_000 });
      expect(others[0].kid).not.toBe(currentKid);
      // each row is live for 3 of its own heartbeats: the old one (a minute) still is when the
      // current one (a second) is not
      const later = new Date(Date.now() + STORE_MAC_LIVE_BEATS * 1_000 + 5_000);
      expect((await current.list(later)).map((r) => [r.self, r.live])).toEqual(
        expect.arrayContaining([
          [true, false],
          [false, true],
        ]),
      );
      const muchLater = new Date(Date.now() + STORE_MAC_LIVE_BEATS * 60_000 + 5_000);
      expect(await current.liveOnOtherKeys(undefined, muchLater)).toEqual([]);
      // the old server under the current key's id: nothing to refuse
      expect(await current.liveOnOtherKeys(others[0].kid)).toEqual([]);
      // stopped: its row goes at once
      await old.stop();
      expect(await current.liveOnOtherKeys()).toEqual([]);
      expect((await current.list()).map((r) => r.replicaId)).toEqual([current.replicaId]);
    } finally {
      await old.stop();
      await current.stop();
    }
  });
});
