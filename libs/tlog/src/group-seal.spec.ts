import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemClock } from '@app/common';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { leafOfRecordHash, verifyInclusion } from './domain/merkle';
import { parseNote } from './domain/signed-note';
import { parseCheckpointText } from './domain/checkpoint';
import { GroupSeal, GroupSealed } from './group-seal';
import { tlogAdapters } from './infrastructure/persistence/tlog-persistence';
import { TlogRepository } from './infrastructure/persistence/tlog.repository';
import { LogKeyService } from './log-key.service';
import { generateTlogKey, tlogConfig } from './tlog.config';
import { TransparencyLogService } from './transparency-log.service';
import { WitnessLog } from './witness-log';

const ORIGIN = 'test.local/vault-audit';
const hashOf = (seq: number) => createHash('sha256').update(`record ${seq}`).digest('hex');

/** The receipt's proof holds against the root of the signed note it came with. */
function proves(seq: number, sealed: GroupSealed): boolean {
  const body = parseCheckpointText(parseNote(sealed.checkpoint.note)!.text)!;
  return (
    sealed.receipt.seq === seq &&
    sealed.receipt.treeSize === body.size &&
    seq <= body.size &&
    verifyInclusion(
      seq - 1,
      body.size,
      leafOfRecordHash(hashOf(seq)),
      sealed.receipt.inclusionProof.map((p) => Buffer.from(p, 'base64')),
      body.rootHash,
    )
  );
}

describe('GroupSeal (SQLite file)', () => {
  let dir: string;
  let store: SqliteStore;
  let repo: TlogRepository;
  let tlog: TransparencyLogService;
  /** The owner's entries: seq → recordHash, and how many of them are committed. */
  let committed: number;
  let storeReads: Array<[number, number]>;
  let failing: boolean;
  let seals: GroupSeal;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-group-seal-'));
    store = new SqliteStore(join(dir, 'mdai.sqlite'));
    repo = (await compileAdapter<TlogRepository>(store, tlogAdapters)).adapter;
    const settings = tlogConfig.read({ TLOG_SIGNING_KEY: generateTlogKey() }, { dataDir: dir });
    tlog = new TransparencyLogService(
      repo,
      new LogKeyService(settings),
      new WitnessLog(settings),
      new SystemClock(),
    );
    committed = 0;
    storeReads = [];
    failing = false;
    seals = new GroupSeal(tlog, ORIGIN, async (from, to) => {
      storeReads.push([from, to]);
      if (failing) throw new Error('the store went away');
      return Array.from({ length: Math.min(to, committed) - from + 1 }, (_, i) => hashOf(from + i));
    });
  });

  afterEach(async () => {
    tlog.onModuleDestroy();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const append = () => ++committed;

  it('should seal entries that come while a seal is in flight together, each proven under the checkpoint it gets', async () => {
    const pending: Array<[number, Promise<GroupSealed>]> = [];
    for (let i = 0; i < 40; i++) {
      const seq = append();
      pending.push([seq, seals.seal(seq, hashOf(seq))]);
    }
    const sealed = await Promise.all(pending.map(([, p]) => p));
    pending.forEach(([seq], i) => expect(proves(seq, sealed[i])).toBe(true));
    // the first entry alone, the 39 that came meanwhile in one group
    expect(seals.sealsStarted).toBe(2);
    expect((await repo.listCheckpoints(ORIGIN, 0, 100)).map((c) => c.size)).toEqual([1, 40]);
    expect(sealed.map((s) => s.receipt.treeSize)).toEqual([1, ...Array(39).fill(40)]);
    // every leaf came from the entries in hand
    expect(storeReads).toEqual([]);
  });

  it('should read from the store the entries another process appended in between, and cover them', async () => {
    const mine = append();
    committed += 3; // another replica's entries 2..4
    const last = append();
    const [a, b] = await Promise.all([
      seals.seal(mine, hashOf(mine)),
      seals.seal(last, hashOf(last)),
    ]);
    expect(proves(mine, a)).toBe(true);
    expect(proves(last, b)).toBe(true);
    expect(b.checkpoint.size).toBe(5);
    expect(storeReads).toEqual([[2, 5]]);
  });

  it('should prove an entry a later group already covered under that checkpoint', async () => {
    const early = append();
    const late = append();
    await seals.seal(late, hashOf(late));
    const sealed = await seals.seal(early, hashOf(early));
    expect(sealed.checkpoint.size).toBe(2);
    expect(proves(early, sealed)).toBe(true);
  });

  it('should refuse every entry of a group whose seal failed, and seal the next group again', async () => {
    const first = append();
    const sealing = seals.seal(first, hashOf(first));
    committed += 1; // another replica's entry 2, read from the store
    const group = [append(), append()];
    failing = true;
    const refused = group.map((seq) => seals.seal(seq, hashOf(seq)).catch((e: Error) => e));
    expect(proves(first, await sealing)).toBe(true);
    for (const r of await Promise.all(refused)) expect(r).toBeInstanceOf(Error);
    expect(storeReads).toEqual([[2, 4]]);
    expect((await repo.latestCheckpoint(ORIGIN))!.size).toBe(1);
    failing = false;
    const next = append();
    const sealed = await seals.seal(next, hashOf(next));
    expect(proves(next, sealed)).toBe(true);
    expect(sealed.checkpoint.size).toBe(5);
  });
});
