import { firstIdAt, newId } from '@app/common';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { VaultFile } from '../../domain/vault-file';
import { vaultFileAdapters } from './vault-persistence';

function file(overrides: Partial<VaultFile> = {}): VaultFile {
  return {
    id: newId(),
    contentType: 'image/jpeg',
    size: 1234,
    sha256: 'a'.repeat(64),
    wrappedKey: `sealed1.v1.${newId()}`,
    keyVersion: 'v1',
    createdBy: 'admin:000000000000',
    createdAt: new Date('2026-01-01T00:00:00.000Z'),
    ...overrides,
  };
}

describeStoreContract('VaultFileRepository', vaultFileAdapters, ({ sut }) => {
  it('should round-trip every field and report unknown ids', async () => {
    const f = file();
    await sut().create(f);
    expect(await sut().findById(f.id)).toEqual(f);
    expect(await sut().findById(newId())).toBeUndefined();
  });

  it('should refuse a second file with the same id', async () => {
    const f = file();
    await sut().create(f);
    // not toThrow(): under jest, better-sqlite3's error may come from another test file's realm
    await expect(sut().create(file({ id: f.id }))).rejects.toBeTruthy();
    expect((await sut().findById(f.id))?.wrappedKey).toBe(f.wrappedKey);
  });

  it('should shred once: the wrapped key is gone and a second shred reports false', async () => {
    const f = file();
    await sut().create(f);
    const at = new Date('2026-02-01T00:00:00.000Z');
    expect(await sut().shred(f.id, 'deleted', at)).toBe(true);
    expect(await sut().shred(f.id, 'deleted', at)).toBe(false);
    expect(await sut().shred(newId(), 'deleted', at)).toBe(false);
    const stored = await sut().findById(f.id);
    expect(stored?.wrappedKey).toBeUndefined();
    expect(stored).toMatchObject({ shreddedAt: at, shredReason: 'deleted', sha256: f.sha256 });
  });

  it('should replace a wrapped key only when it is still the expected one and the file is live', async () => {
    const f = file();
    await sut().create(f);
    const next = { wrappedKey: 'sealed1.v2.new', keyVersion: 'v2' };
    expect(await sut().replaceWrappedKey(f.id, 'sealed1.v1.stale', next)).toBe(false);
    expect(await sut().replaceWrappedKey(f.id, f.wrappedKey!, next)).toBe(true);
    expect(await sut().findById(f.id)).toMatchObject(next);
    const shredded = file();
    await sut().create(shredded);
    await sut().shred(shredded.id, 'deleted', new Date());
    expect(await sut().replaceWrappedKey(shredded.id, shredded.wrappedKey!, next)).toBe(false);
  });

  it('should list live files whose id was made before a second, by id', async () => {
    const at = (stamp: string, n: number) =>
      firstIdAt(new Date(stamp)).slice(0, 8) + n.toString(16).padStart(16, '0');
    // created_at says nothing here: a record edited into the future is listed by its id
    const early = file({ id: at('2026-01-01T00:00:00Z', 2), createdAt: new Date('2099-01-01') });
    const earlier = file({ id: at('2026-01-01T00:00:00Z', 1) });
    const late = file({ id: at('2026-03-01T00:00:00Z', 1), createdAt: new Date('2020-01-01') });
    const gone = file({ id: at('2025-06-01T00:00:00Z', 1) });
    for (const f of [early, earlier, late, gone]) await sut().create(f);
    await sut().shred(gone.id, 'retention', new Date());
    const bound = firstIdAt(new Date('2026-02-01T00:00:00Z'));
    expect((await sut().listLiveIdBefore(bound, 10)).map((f) => f.id)).toEqual([
      earlier.id,
      early.id,
    ]);
    expect(await sut().listLiveIdBefore(bound, 1)).toHaveLength(1);
  });

  it('should count live files per key version and list those not wrapped by one', async () => {
    const a = file({ keyVersion: 'v1' });
    const b = file({ keyVersion: 'v1' });
    const c = file({ keyVersion: 'v2' });
    const d = file({ keyVersion: 'v0' });
    for (const f of [a, b, c, d]) await sut().create(f);
    await sut().shred(d.id, 'retention', new Date());
    expect(await sut().countLiveByKeyVersion()).toEqual({ v1: 2, v2: 1 });
    const stale = await sut().listLiveNotWrappedBy('v2', 10);
    expect(stale.map((f) => f.id).sort()).toEqual([a.id, b.id].sort());
  });
});
