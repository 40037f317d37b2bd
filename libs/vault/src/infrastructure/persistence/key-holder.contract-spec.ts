import { describeStoreContract } from '@app/persistence/testing/store-contract';
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
