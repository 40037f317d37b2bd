import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { Logger } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
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
describeStoreContract('StoreMacReplicas', storeMacReplicaAdapters, ({ sut, store, driver }) => {
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

  /** Resolves once `cond` holds (checked every few ms). */
  const until = async (cond: () => boolean) => {
    while (!cond()) await sleep(5);
  };

  it('should beat one at a time on a slow store, and say once that the store went down and once that it came back (no stack)', async () => {
    // the store failing: SQLite's table dropped under the server, then made again (the Mongo
    // test server creates a dropped collection on the next write: nothing fails there)
    if (driver() !== 'sqlite') return;
    const db = (store() as unknown as { db: Database }).db;
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const beating = server(10);
    await beating.onApplicationBootstrap();
    try {
      // a slow store: each write waits for the gate. Beats piled up (one per tick) before
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const record = sut().record.bind(sut());
      let running = 0;
      let most = 0;
      let calls = 0;
      const slow = jest.spyOn(sut(), 'record').mockImplementation(async (r) => {
        calls++;
        most = Math.max(most, ++running);
        await gate;
        try {
          return await record(r);
        } finally {
          running--;
        }
      });
      await until(() => calls >= 1);
      await sleep(150); // 15 heartbeat periods
      expect([calls, most]).toEqual([1, 1]);
      open();
      await until(() => calls >= 3);
      slow.mockRestore();

      // down: said once however many beats fail
      const saidDown = () =>
        warn.mock.calls.filter((c) => String(c[0]).includes('Could not record')).length;
      db.exec('DROP TABLE store_mac_replicas');
      await until(() => saidDown() >= 1);
      await sleep(150);
      expect(saidDown()).toBe(1);
      expect(warn.mock.calls[0][0]).toContain('no such table');
      expect(JSON.stringify(warn.mock.calls)).not.toMatch(/\n\s+at /);
      // back: said once too
      db.exec(`CREATE TABLE store_mac_replicas (replica_id TEXT PRIMARY KEY, host TEXT NOT NULL,
        kid TEXT NOT NULL, started_at TEXT NOT NULL, seen_at TEXT NOT NULL,
        heartbeat_ms INTEGER NOT NULL)`);
      const saidBack = () => log.mock.calls.filter((c) => String(c[0]).includes('again')).length;
      await until(() => saidBack() >= 1);
      await sleep(150);
      expect([saidDown(), saidBack()]).toEqual([1, 1]);
      expect((await beating.list()).map((r) => r.replicaId)).toEqual([beating.replicaId]);
    } finally {
      await beating.stop();
      warn.mockRestore();
      log.mockRestore();
    }
  });
});
