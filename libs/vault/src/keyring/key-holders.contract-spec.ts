import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { ReplicaRegistry } from '@app/tlog';
import { replicaRegistryAdapters } from '@app/tlog/infrastructure/persistence/replicas/replica-registry-persistence';
import { randomBytes } from 'node:crypto';
import { VaultSettings } from '../vault.config';
import { KEY_HOLDER_LIVE_MS, KeyHoldersService } from './key-holders.service';
import { KeyringService } from './keyring.service';

/**
 * KeyHoldersService over the store's rows: which other live servers hold a version this one
 * lacks (what /health and GET /api/v5/vault/keys `unheld` decide on). Two servers, each its
 * own keyring, on one store.
 */
describeStoreContract('KeyHoldersService.holdersOf', replicaRegistryAdapters, ({ sut }) => {
  const keyring = (versions: string[], activeKey = versions[versions.length - 1]) =>
    new KeyringService({
      keys: new Map(versions.map((v) => [v, randomBytes(32)])),
      activeKey,
    } as VaultSettings);
  /** A server on the store: its registry (a minute's heartbeat) and its vault side. */
  const server = (versions: string[], activeKey?: string) => {
    const registry = new ReplicaRegistry(sut(), { storeMacHeartbeatMs: 60_000 });
    return Object.assign(new KeyHoldersService(registry, keyring(versions, activeKey)), {
      start: () => registry.onApplicationBootstrap(),
    });
  };

  it('should count the other live servers holding each version, never this one or one gone quiet', async () => {
    const behind = server(['v1']);
    const ahead = server(['v1', 'v2']);
    await behind.start();
    await ahead.start();
    try {
      expect(await behind.holdersOf(['v2', 'v3'])).toEqual(
        new Map([
          ['v2', 1],
          ['v3', 0],
        ]),
      );
      // its own row does not count: v1 is held by the other one only
      expect(await ahead.holdersOf(['v1', 'v2'])).toEqual(
        new Map([
          ['v1', 1],
          ['v2', 0],
        ]),
      );
      // past the 3 minutes without a heartbeat, a server is taken for gone
      const later = new Date(Date.now() + KEY_HOLDER_LIVE_MS + 60_000);
      expect(await behind.holdersOf(['v2'], later)).toEqual(new Map([['v2', 0]]));
      // stopped: its row goes at once
      await ahead.stop();
      expect(await behind.holdersOf(['v2'])).toEqual(new Map([['v2', 0]]));
    } finally {
      await ahead.stop();
      await behind.stop();
    }
  });

  it('should name the other live servers sealing under another version, and the versions they seal under', async () => {
    const pinned = server(['v1', 'v2'], 'v1');
    const current = server(['v1', 'v2']);
    await pinned.start();
    await current.start();
    try {
      expect((await current.liveSealingOtherThan('v2')).map((h) => h.instanceId)).toEqual([
        pinned.instanceId,
      ]);
      expect(await current.liveActiveVersions()).toEqual(['v1']);
      expect(await current.liveLacking('v2')).toEqual([]);
      expect(await pinned.liveActiveVersions()).toEqual(['v2']);
    } finally {
      await pinned.stop();
      await current.stop();
    }
  });
});
