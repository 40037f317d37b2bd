import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { LedgerCheckpoint } from '../../domain/ledger-checkpoint';
import { ledgerCheckpointAdapters } from './ledger-persistence';

function checkpoint(seq: number, headHash = 'a'.repeat(64)): LedgerCheckpoint {
  return {
    siteId: 'S',
    seq,
    headHash,
    signedAt: '2026-01-01T00:00:00.000Z',
    kid: 'k1',
    alg: 'ES256',
    signature: 'sig',
  };
}

describeStoreContract('LedgerCheckpointRepository', ledgerCheckpointAdapters, ({ sut }) => {
  it('should list checkpoints by seq and keep the first of two for one seq', async () => {
    await sut().saveCheckpoint(checkpoint(200));
    await sut().saveCheckpoint(checkpoint(100));
    await sut().saveCheckpoint(checkpoint(100, 'b'.repeat(64)));
    const listed = await sut().listCheckpoints('S');
    expect(listed).toEqual([checkpoint(100), checkpoint(200)]);
    expect(await sut().listCheckpoints('other')).toEqual([]);
  });

  it('should keep exactly one of concurrent saves of one seq, failing none', async () => {
    const racers = Array.from({ length: 8 }, (_, i) =>
      checkpoint(300, String(i).repeat(64).slice(0, 64)),
    );
    await Promise.all(racers.map((c) => sut().saveCheckpoint(c)));
    const listed = await sut().listCheckpoints('S');
    expect(listed).toHaveLength(1);
    expect(racers).toContainEqual(listed[0]);
  });
});
