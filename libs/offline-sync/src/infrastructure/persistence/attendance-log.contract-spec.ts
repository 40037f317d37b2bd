import { randomUUID } from 'node:crypto';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { GENESIS_HASH, PendingLogEntry } from '../../domain/attendance-log';
import { ChainVerifier } from '../../domain/chain-verifier';
import { attendanceLogAdapters } from './ledger-persistence';
import { AttendanceLogRepository } from './attendance-log.repository';

function entry(siteId: string, packetId = randomUUID()): PendingLogEntry {
  return {
    siteId,
    packetId,
    data: {
      packetId,
      workerId: 'w1',
      siteId,
      deviceId: 'd1',
      type: 'check_in',
      timestamp: '2026-01-01T08:00:00.000Z',
      geo: { lat: 28.6139, lng: 77.209, accuracyM: 12.5 },
      signature: 'a'.repeat(64),
    },
    meta: { isOfflineSync: true, syncTimestamp: '2026-01-01T09:00:00.000Z', deviceTrustScore: 50 },
  };
}

async function verify(repo: AttendanceLogRepository, siteId: string) {
  const verifier = new ChainVerifier(siteId);
  for (const log of await repo.readChain(siteId, 0, 100_000)) verifier.accept(log);
  return verifier;
}

describeStoreContract('AttendanceLogRepository', attendanceLogAdapters, ({ sut }) => {
  it('should start each site at seq 1 on the genesis hash and link every entry to the one before', async () => {
    const results = await sut().appendToChains([entry('A'), entry('B'), entry('A')]);
    expect(results.map((r) => [r.status, r.log.siteId, r.log.seq])).toEqual([
      ['appended', 'A', 1],
      ['appended', 'B', 1],
      ['appended', 'A', 2],
    ]);
    expect(results[0].log.prevHash).toBe(GENESIS_HASH);
    expect(results[2].log.prevHash).toBe(results[0].log.recordHash);
    expect((await verify(sut(), 'A')).firstBreak).toBeUndefined();
  });

  it('should store a packetId once and answer later copies, even in the same call, as duplicates', async () => {
    const first = entry('A');
    const [a, b] = await sut().appendToChains([first, { ...first }]);
    const [c] = await sut().appendToChains([first]);
    expect([a.status, b.status, c.status]).toEqual(['appended', 'duplicate', 'duplicate']);
    expect(c.log).toEqual(a.log);
    expect(await sut().readChain('A', 0, 10)).toHaveLength(1);
  });

  it('should keep one chain without gaps or forks under concurrent appends', async () => {
    const batches = Array.from({ length: 20 }, () => [entry('C'), entry('C'), entry('C')]);
    const shared = entry('C');
    await Promise.all([
      ...batches.map((b) => sut().appendToChains(b)),
      sut().appendToChains([shared]),
      sut().appendToChains([shared]),
    ]);
    const verifier = await verify(sut(), 'C');
    expect(verifier.firstBreak).toBeUndefined();
    expect(verifier.length).toBe(61);
  });

  it('should find stored links by packetId and read a chain in pages', async () => {
    const entries = [entry('P'), entry('P'), entry('P')];
    await sut().appendToChains(entries);
    const found = await sut().findByPacketIds([entries[1].packetId, randomUUID()]);
    expect([...found.keys()]).toEqual([entries[1].packetId]);
    expect(found.get(entries[1].packetId)?.seq).toBe(2);
    expect((await sut().readChain('P', 1, 1)).map((l) => l.seq)).toEqual([2]);
    expect(await sut().readChain('P', 3, 10)).toEqual([]);
  });
});
