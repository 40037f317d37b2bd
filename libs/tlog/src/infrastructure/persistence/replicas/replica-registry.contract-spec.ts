import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { MongoStore, SqliteStore } from '@app/persistence';
import { Logger } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ReplicaRegistry } from '../../../replica-registry';
import { StoreMac } from '../../../store-mac';
import { parseStoreMacKey } from '../../../store-mac-keys';
import { STORE_MAC_LIVE_BEATS, StoreMacReplicas } from '../../../store-mac-replicas';
import { replicaRegistryAdapters } from './replica-registry-persistence';
import { Replica, ReplicaRegistryRepository } from './replica-registry.repository';

describeStoreContract(
  'ReplicaRegistryRepository',
  replicaRegistryAdapters,
  ({ sut, store, driver }) => {
    const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute));
    const row = (replicaId: string, kid: string, minute: number): Replica => ({
      replicaId,
      host: `host-${replicaId}`,
      holds: { storeMacKid: kid },
      startedAt: at(0),
      seenAt: at(minute),
      heartbeatMs: 60_000,
    });

    it('should record, refresh and forget each server with its host, times and what it holds', async () => {
      await sut().record(row('b', 'k1', 1));
      await sut().record(row('a', 'k1', 2));
      expect(await sut().list()).toEqual([row('a', 'k1', 2), row('b', 'k1', 1)]);
      // a heartbeat refreshes the row (one per server), its holdings replaced whole
      const both = { storeMacKid: 'k2', vaultKeyVersions: ['v1', 'v2'], vaultActiveKey: 'v1' };
      await sut().record({ ...row('a', 'k2', 5), holds: both, heartbeatMs: 1000 });
      expect(await sut().list()).toEqual([
        { ...row('a', 'k2', 5), holds: both, heartbeatMs: 1000 },
        row('b', 'k1', 1),
      ]);
      await sut().record({ ...row('a', 'k2', 6), holds: { vaultKeyVersions: ['v2'] } });
      expect((await sut().list())[0].holds).toEqual({ vaultKeyVersions: ['v2'] });
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

    it('should move the rows of the store-MAC replicas and the vault key holders of the release before into the registry, once, and drop their tables', async () => {
      // a store of the release before: its two tables (or collections), one row each
      const seen = at(7).toISOString();
      if (driver() === 'sqlite') {
        const db = (store() as SqliteStore).db;
        db.exec(`
        DELETE FROM schema_migrations WHERE scope = 'tlog.store_mac_replicas' AND version = 2;
        DROP TABLE replicas;
        CREATE TABLE store_mac_replicas (replica_id TEXT PRIMARY KEY, host TEXT NOT NULL,
          kid TEXT NOT NULL, started_at TEXT NOT NULL, seen_at TEXT NOT NULL,
          heartbeat_ms INTEGER NOT NULL);
        CREATE TABLE vault_key_holders (instance_id TEXT PRIMARY KEY, versions TEXT NOT NULL,
          seen_at TEXT NOT NULL, active TEXT);
      `);
        db.prepare('INSERT INTO store_mac_replicas VALUES (?, ?, ?, ?, ?, ?)').run(
          'h1:10:aa',
          'h1',
          'k1',
          at(0).toISOString(),
          seen,
          500,
        );
        db.prepare('INSERT INTO vault_key_holders VALUES (?, ?, ?, ?)').run(
          'h1:10:bb',
          '["v1","v2"]',
          seen,
          'v2',
        );
      } else {
        const db = (store() as MongoStore).connection.db!;
        await db.collection('replicas').drop();
        await db.collection<{ _id: string; [k: string]: unknown }>('store_mac_replicas').insertOne({
          _id: 'h1:10:aa',
          host: 'h1',
          kid: 'k1',
          startedAt: at(0),
          seenAt: at(7),
          heartbeatMs: 500,
        });
        await db
          .collection<{ _id: string; [k: string]: unknown }>('vault_key_holders')
          .insertOne({ _id: 'h1:10:bb', versions: ['v1', 'v2'], active: 'v2', seenAt: at(7) });
      }
      const moved: Replica[] = [
        {
          replicaId: 'h1:10:aa',
          host: 'h1',
          holds: { storeMacKid: 'k1' },
          startedAt: at(0),
          seenAt: at(7),
          heartbeatMs: 500,
        },
        {
          replicaId: 'h1:10:bb',
          host: 'h1',
          holds: { vaultKeyVersions: ['v1', 'v2'], vaultActiveKey: 'v2' },
          startedAt: at(7),
          seenAt: at(7),
          heartbeatMs: 60_000,
        },
      ];
      // a start on it (a new server) moves them
      const started = await compileAdapter<ReplicaRegistryRepository>(
        store(),
        replicaRegistryAdapters,
      );
      try {
        expect(await started.adapter.list()).toEqual(moved);
        const tables =
          driver() === 'sqlite'
            ? (store() as SqliteStore).db
                .prepare<[], { name: string }>(
                  "SELECT name FROM sqlite_master WHERE type = 'table'",
                )
                .all()
                .map((t) => t.name)
            : (
                await (store() as MongoStore).connection
                  .db!.listCollections({}, { nameOnly: true })
                  .toArray()
              ).map((c) => c.name);
        expect(tables).toContain('replicas');
        expect(tables).not.toContain('store_mac_replicas');
        expect(tables).not.toContain('vault_key_holders');
        // the next start finds nothing more to move, and keeps what is there
        await started.adapter.remove('h1:10:aa');
        const again = await compileAdapter<ReplicaRegistryRepository>(
          store(),
          replicaRegistryAdapters,
        );
        expect(await again.adapter.list()).toEqual([moved[1]]);
        await again.close();
      } finally {
        await started.close();
      }
    });
  },
);

/**
 * StoreMacReplicas over the store's rows: two servers on one store, each under its own
 * store-MAC key; which of the others are live and under another key (what keys:retag refuses on).
 */
describeStoreContract('StoreMacReplicas', replicaRegistryAdapters, ({ sut, store, driver }) => {
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  /** A server: its registry (started with `start`) and its store-MAC side. */
  const server = (heartbeatMs: number) => {
    const registry = new ReplicaRegistry(sut(), { storeMacHeartbeatMs: heartbeatMs });
    const mac = new StoreMac({
      signingKey,
      storeMacKey: parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64')),
    });
    return Object.assign(new StoreMacReplicas(registry, mac), {
      start: () => registry.onApplicationBootstrap(),
    });
  };

  it('should name the other live servers under another key, never this one or one gone quiet, and forget one stopped', async () => {
    const old = server(60_000);
    const current = server(1_000);
    await old.start();
    await current.start();
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
    await beating.start();
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
      db.exec('DROP TABLE replicas');
      await until(() => saidDown() >= 1);
      await sleep(150);
      expect(saidDown()).toBe(1);
      expect(warn.mock.calls[0][0]).toContain('no such table');
      expect(JSON.stringify(warn.mock.calls)).not.toMatch(/\n\s+at /);
      // back: said once too
      db.exec(`CREATE TABLE replicas (replica_id TEXT PRIMARY KEY, host TEXT NOT NULL,
        started_at TEXT NOT NULL, seen_at TEXT NOT NULL, heartbeat_ms INTEGER NOT NULL,
        store_mac_kid TEXT, vault_key_versions TEXT, vault_active_key TEXT)`);
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
