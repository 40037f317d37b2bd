import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { randomBytes } from 'node:crypto';
import { KEY_HOLDER_LIVE_MS, KeyHoldersService } from '../../keyring/key-holders.service';
import { KeyringService } from '../../keyring/keyring.service';
import { VaultSettings } from '../../vault.config';
import { keyHolderAdapters } from './vault-persistence';

describeStoreContract('KeyHolderRepository', keyHolderAdapters, ({ sut }) => {
  const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute));

  it('should record, refresh and forget the versions each server holds, and list those seen since a time', async () => {
    await sut().record({ instanceId: 'a', versions: ['v1'], seenAt: at(0) });
    await sut().record({ instanceId: 'b', versions: ['v1', 'v2'], seenAt: at(5) });
    expect(await sut().listSeenSince(at(1))).toEqual([
      { instanceId: 'b', versions: ['v1', 'v2'], seenAt: at(5) },
    ]);
    // a heartbeat refreshes the row (one per server)
    await sut().record({ instanceId: 'a', versions: ['v1', 'v2'], seenAt: at(6) });
    expect(await sut().listSeenSince(at(0))).toEqual([
      { instanceId: 'a', versions: ['v1', 'v2'], seenAt: at(6) },
      { instanceId: 'b', versions: ['v1', 'v2'], seenAt: at(5) },
    ]);
    await sut().remove('a');
    await sut().remove('nobody');
    expect((await sut().listSeenSince(at(0))).map((h) => h.instanceId)).toEqual(['b']);
  });

  it('should keep the version each server seals under, and none for a row without one', async () => {
    await sut().record({ instanceId: 'a', versions: ['v1', 'v2'], active: 'v1', seenAt: at(0) });
    await sut().record({ instanceId: 'b', versions: ['v1'], seenAt: at(0) });
    expect(await sut().listSeenSince(at(0))).toEqual([
      { instanceId: 'a', versions: ['v1', 'v2'], active: 'v1', seenAt: at(0) },
      { instanceId: 'b', versions: ['v1'], seenAt: at(0) },
    ]);
    // restarted with VAULT_ACTIVE_KEY unset: its row follows
    await sut().record({ instanceId: 'a', versions: ['v1', 'v2'], active: 'v2', seenAt: at(1) });
    expect((await sut().listSeenSince(at(1)))[0].active).toBe('v2');
  });
});

/**
 * KeyHoldersService over the store's rows: which other live servers hold a version this one
 * lacks (what /health and GET /api/v5/vault/keys `unheld` decide on). Two servers, each its
 * own keyring, on one store.
 */
describeStoreContract('KeyHoldersService.holdersOf', keyHolderAdapters, ({ sut }) => {
  const keyring = (versions: string[]) =>
    new KeyringService({
      keys: new Map(versions.map((v) => [v, randomBytes(32)])),
      activeKey: versions[versions.length - 1],
    } as VaultSettings);

  it('should count the other live servers holding each version, never this one or one gone quiet', async () => {
    const behind = new KeyHoldersService(sut(), keyring(['v1']));
    const ahead = new KeyHoldersService(sut(), keyring(['v1', 'v2']));
    await behind.onApplicationBootstrap();
    await ahead.onApplicationBootstrap();
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
});
