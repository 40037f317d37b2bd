import { newId } from '@app/common';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import {
  auditRecordHash,
  chainEntry,
  GENESIS_HASH,
  VAULT_ACTIONS,
  VAULT_RESULTS,
  VaultAccessResult,
  VaultAction,
  VaultAuditEntry,
} from '../../domain/vault-audit-record';
import { vaultAuditAdapters } from './vault-persistence';

function entry(fileId: string, overrides: Partial<VaultAuditEntry> = {}): VaultAuditEntry {
  return {
    id: newId(),
    fileId,
    actor: 'auditor:000000000000',
    role: 'auditor',
    ip: '127.0.0.1',
    purpose: 'case review',
    action: 'read',
    result: 'allowed',
    at: new Date('2026-01-01T00:00:00.000Z'),
    ...overrides,
  };
}

describeStoreContract('VaultAuditRepository', vaultAuditAdapters, ({ sut }) => {
  it('should start the chain at seq 1 after the genesis hash and link each record to the last', async () => {
    const first = await sut().appendToChain((head) => chainEntry(entry('f1'), head));
    const second = await sut().appendToChain((head) =>
      chainEntry(entry('f2', { result: 'denied', reason: 'missing_purpose' }), head),
    );
    expect(first).toMatchObject({ seq: 1, prevHash: GENESIS_HASH });
    expect(second).toMatchObject({ seq: 2, prevHash: first.recordHash });
    const stored = await sut().listInOrder({ limit: 10 });
    expect(stored).toEqual([first, second]);
    expect(auditRecordHash(stored[1], stored[1].seq, stored[1].prevHash)).toBe(second.recordHash);
  });

  it("should store the server's tag beside a record, read it back with the record, and null for an untagged one", async () => {
    expect(await sut().headSeq()).toBe(0);
    const tagged = await sut().appendToChain(
      (head) => chainEntry(entry('f1'), head),
      (record) => ({ mac: `mac-of-${record.seq}-${record.recordHash}`, kid: '0123456789abcdef' }),
    );
    const untagged = await sut().appendToChain((head) => chainEntry(entry('f2'), head));
    const third = await sut().appendToChain(
      (head) => chainEntry(entry('f3'), head),
      () => ({ mac: 'm3', kid: 'k3' }),
    );
    expect(await sut().headSeq()).toBe(3);
    expect(await sut().readTagged(1, 3)).toEqual([
      { record: tagged, mac: `mac-of-1-${tagged.recordHash}`, kid: '0123456789abcdef' },
      { record: untagged, mac: null, kid: null },
      { record: third, mac: 'm3', kid: 'k3' },
    ]);
    expect((await sut().readTagged(2, 2)).map((r) => r.record.seq)).toEqual([2]);
    expect(await sut().readTagged(4, 9)).toEqual([]);
    // the tag is beside the record, not part of it: listings and hashes as before
    expect(await sut().listInOrder({ limit: 10 })).toEqual([tagged, untagged, third]);
    expect(await sut().readRecordHashes(1, 3)).toEqual([
      tagged.recordHash,
      untagged.recordHash,
      third.recordHash,
    ]);
  });

  it('should store nothing when the tag cannot be made', async () => {
    await expect(
      sut().appendToChain(
        (head) => chainEntry(entry('f1'), head),
        () => {
          throw new Error('no key');
        },
      ),
    ).rejects.toThrow('no key');
    expect(await sut().headSeq()).toBe(0);
  });

  it('should keep one unbroken chain under concurrent appends', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sut().appendToChain((head) => chainEntry(entry(`f${i}`), head)),
      ),
    );
    const records = await sut().listInOrder({ limit: 100 });
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    let prev = GENESIS_HASH;
    for (const record of records) {
      expect(record.prevHash).toBe(prev);
      expect(auditRecordHash(record, record.seq, record.prevHash)).toBe(record.recordHash);
      prev = record.recordHash;
    }
  });

  it('should list the records of one file in order, with seq pagination', async () => {
    for (const fileId of ['a', 'b', 'a', 'a', 'b']) {
      await sut().appendToChain((head) => chainEntry(entry(fileId), head));
    }
    const ofA = await sut().listInOrder({ fileId: 'a', limit: 10 });
    expect(ofA.map((r) => r.seq)).toEqual([1, 3, 4]);
    expect(
      (await sut().listInOrder({ fileId: 'a', afterSeq: 3, limit: 10 })).map((r) => r.seq),
    ).toEqual([4]);
    expect((await sut().listInOrder({ afterSeq: 1, limit: 2 })).map((r) => r.seq)).toEqual([2, 3]);
    expect(await sut().listInOrder({ fileId: 'none', limit: 10 })).toEqual([]);
  });

  it('should list by actor, action and result, alone and together, with seq pagination', async () => {
    const rows: Array<[string, Partial<VaultAuditEntry>]> = [
      ['a', {}],
      ['a', { actor: 'anonymous', role: 'none', result: 'denied', reason: 'missing_api_key' }],
      ['b', { actor: 'relay', role: 'service', action: 'store' }],
      ['a', { actor: 'anonymous', role: 'none', result: 'denied', reason: 'invalid_api_key' }],
      ['b', { action: 'delete' }],
      ['b', { result: 'denied', reason: 'missing_purpose' }],
    ];
    for (const [fileId, overrides] of rows) {
      await sut().appendToChain((head) => chainEntry(entry(fileId, overrides), head));
    }
    const seqs = async (criteria: Parameters<ReturnType<typeof sut>['listInOrder']>[0]) =>
      (await sut().listInOrder(criteria)).map((r) => r.seq);
    expect(await seqs({ actor: 'anonymous', limit: 10 })).toEqual([2, 4]);
    expect(await seqs({ actor: 'anonymous', afterSeq: 2, limit: 10 })).toEqual([4]);
    expect(await seqs({ result: 'denied', limit: 10 })).toEqual([2, 4, 6]);
    expect(await seqs({ result: 'denied', limit: 2 })).toEqual([2, 4]);
    expect(await seqs({ action: 'read', limit: 10 })).toEqual([1, 2, 4, 6]);
    expect(await seqs({ action: 'store', actor: 'relay', limit: 10 })).toEqual([3]);
    expect(await seqs({ fileId: 'b', result: 'denied', limit: 10 })).toEqual([6]);
    expect(
      await seqs({ fileId: 'a', actor: 'auditor:000000000000', action: 'read', limit: 10 }),
    ).toEqual([1]);
    expect(await seqs({ result: 'failed', limit: 10 })).toEqual([]);
  });

  it('should answer every combination of filters in seq order, page by page, as a filter of the whole log', async () => {
    const files = ['a', 'b'];
    const actors = ['anonymous', 'auditor:000000000000', 'admin:111111111111'];
    const written: VaultAuditEntry[] = [];
    for (let i = 0; i < 48; i++) {
      const e = entry(files[i % 2], {
        actor: actors[i % 3],
        action: VAULT_ACTIONS[(i >> 1) % VAULT_ACTIONS.length],
        result: VAULT_RESULTS[(i * 7) % VAULT_RESULTS.length],
      });
      written.push(e);
      await sut().appendToChain((head) => chainEntry(e, head));
    }
    const keys = ['fileId', 'actor', 'action', 'result'] as const;
    // each combination, with the values of a few different records
    for (let mask = 1; mask < 1 << keys.length; mask++) {
      for (const probe of [written[0], written[17], written[46]]) {
        const filter: Partial<Record<(typeof keys)[number], string>> = {};
        keys.forEach((k, i) => {
          if (mask & (1 << i)) filter[k] = probe[k];
        });
        const expected = written
          .map((e, i) => ({ e, seq: i + 1 }))
          .filter(({ e }) => keys.every((k) => filter[k] === undefined || e[k] === filter[k]))
          .map(({ seq }) => seq);
        const got: number[] = [];
        for (let after = 0; ;) {
          const page = await sut().listInOrder({
            ...(filter as object),
            afterSeq: after,
            limit: 3,
          });
          got.push(...page.map((r) => r.seq));
          if (page.length < 3) break;
          after = page[page.length - 1].seq;
        }
        expect({ filter, seqs: got }).toEqual({ filter, seqs: expected });
      }
    }
  });

  it('should keep a refusal with an empty file id and an empty purpose', async () => {
    // a read without x-access-purpose, a 415 or a 413 is audited before any file or purpose exists
    const refused = await sut().appendToChain((head) =>
      chainEntry(
        entry('', { purpose: '', ip: '', result: 'denied', reason: 'missing_purpose' }),
        head,
      ),
    );
    expect(await sut().listInOrder({ limit: 10 })).toEqual([refused]);
    expect(await sut().listInOrder({ fileId: '', limit: 10 })).toEqual([refused]);
  });

  it('should append nothing when building the record throws', async () => {
    await expect(
      sut().appendToChain(() => {
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(await sut().listInOrder({ limit: 10 })).toEqual([]);
  });

  it.each([
    ['an action', { action: 'copy' as VaultAction }],
    ['a result', { result: 'maybe' as VaultAccessResult }],
    ['an action of another case', { action: 'Read' as VaultAction }],
  ])(
    'should refuse a record with %s outside the catalogue, loudly, and append nothing',
    async (_what, overrides) => {
      const kept = await sut().appendToChain((head) => chainEntry(entry('f'), head));
      // a rejection from the native driver is not always an `Error` of jest's realm: its message
      const outcome = await sut()
        .appendToChain((head) => chainEntry(entry('f', overrides), head))
        .then(
          () => 'stored',
          (error: { message?: string }) => String(error.message),
        );
      expect(outcome).toMatch(/CHECK constraint failed|is not a valid enum value/);
      expect(await sut().listInOrder({ limit: 10 })).toEqual([kept]);
      // and every catalogued pair is taken
      for (const action of VAULT_ACTIONS) {
        for (const result of VAULT_RESULTS) {
          await sut().appendToChain((head) => chainEntry(entry('f', { action, result }), head));
        }
      }
      expect(await sut().listInOrder({ limit: 100 })).toHaveLength(
        1 + VAULT_ACTIONS.length * VAULT_RESULTS.length,
      );
    },
  );
});
