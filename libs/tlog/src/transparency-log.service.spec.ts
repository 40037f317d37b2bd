import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MetricsRegistry, SystemClock } from '@app/common';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import {
  appendLeaves,
  consistencyRanges,
  leafOfRecordHash,
  MerkleNode,
  verifyConsistency,
  verifyInclusion,
} from './domain/merkle';
import { TreeBuilder } from './domain/tree-verifier';
import { tlogAdapters } from './infrastructure/persistence/tlog-persistence';
import { TlogRepository } from './infrastructure/persistence/tlog.repository';
import { LogKeyService } from './log-key.service';
import { generateTlogKey, tlogConfig } from './tlog.config';
import { LeafSource, SEAL_SLICE, TransparencyLogService } from './transparency-log.service';
import { WitnessLog } from './witness-log';

const BACKLOG = 50_000;
const ORIGIN = 'test.local/ledger/backlog';

const recordHashes = Array.from({ length: BACKLOG + 500 }, (_, i) =>
  createHash('sha256')
    .update(`entry ${i + 1}`)
    .digest('hex'),
);

/** The nodes and root of the first `size` entries appended in one go (`appendLeaves`). */
function inOneGo(size: number) {
  const { created } = appendLeaves(
    new Map(),
    0,
    recordHashes.slice(0, size).map((h) => leafOfRecordHash(h)),
  );
  const tree = new TreeBuilder();
  for (const h of recordHashes.slice(0, size)) tree.pushRecordHash(h);
  return { created, root: tree.root() };
}

describe('TransparencyLogService sealing a backlog (SQLite file)', () => {
  let dir: string;
  let store: SqliteStore;
  let repo: TlogRepository;
  let metrics: MetricsRegistry;
  let sut: TransparencyLogService;
  let signingKey: string;
  let witnessFile: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-tlog-seal-'));
    store = new SqliteStore(join(dir, 'mdai.sqlite'));
    repo = (await compileAdapter<TlogRepository>(store, tlogAdapters)).adapter;
    signingKey = generateTlogKey();
    const settings = tlogConfig.read({ TLOG_SIGNING_KEY: signingKey }, { dataDir: dir });
    witnessFile = settings.witnessFile;
    metrics = new MetricsRegistry();
    sut = new TransparencyLogService(
      repo,
      new LogKeyService(settings),
      new WitnessLog(settings),
      new SystemClock(),
      metrics,
    );
  });

  afterEach(async () => {
    sut.onModuleDestroy();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The nodes of one go that are not stored as they are, and the count of stored nodes. */
  function compareStored(created: MerkleNode[]): { differing: string[]; stored: number } {
    const stored = storedNodes();
    const differing = created
      .filter((n) => !stored.get(`${n.level}/${n.index}`)?.equals(n.hash))
      .map((n) => `${n.level}/${n.index}`);
    return { differing, stored: stored.size };
  }

  /** Every stored node of the log, by `level/index`. */
  function storedNodes(): Map<string, Buffer> {
    const rows = store.db
      .prepare<[string], { level: number; idx: number; hash: Buffer }>(
        `SELECT level, idx, hash FROM tlog_nodes
         WHERE log_id = (SELECT id FROM tlog_logs WHERE origin = ?)`,
      )
      .all(ORIGIN);
    return new Map(rows.map((r) => [`${r.level}/${r.idx}`, r.hash]));
  }

  async function alarms(): Promise<number> {
    const metric = await metrics.getSingleMetric('mdai_tlog_inconsistency_total')!.get();
    return metric.values.reduce((sum, v) => sum + v.value, 0);
  }

  it('should seal a backlog slice by slice into the tree of one go, the loop turning between reads', async () => {
    // a callback chain that runs once per turn of the event loop
    let turns = 0;
    let spinning = true;
    const spin = () => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    const reads: { turn: number; count: number }[] = [];
    const source: LeafSource = async (from, to) => {
      reads.push({ turn: turns, count: to - from + 1 });
      return recordHashes.slice(from - 1, to);
    };
    const seqs = [1, 2, SEAL_SLICE, SEAL_SLICE + 1, 30_000, BACKLOG - 499, BACKLOG];
    let sealed;
    try {
      sealed = await sut.seal(ORIGIN, BACKLOG, source, seqs);
    } finally {
      spinning = false;
    }

    // the loop turned between every two reads of the backlog, each read a bounded slice
    expect(new Set(reads.map((r) => r.turn)).size).toBe(reads.length);
    expect(reads.length).toBeGreaterThan(BACKLOG / SEAL_SLICE);
    expect(Math.max(...reads.map((r) => r.count))).toBeLessThanOrEqual(SEAL_SLICE);

    // the same tree as appending the whole backlog in one go: root and every stored node
    const { created, root } = inOneGo(BACKLOG);
    expect(sealed.checkpoint.size).toBe(BACKLOG);
    expect(sealed.checkpoint.rootHash).toBe(root.toString('hex'));
    expect(compareStored(created)).toEqual({ differing: [], stored: created.length });
    expect(await sut.latest(ORIGIN)).toEqual(sealed.checkpoint);

    // receipts of leaves in earlier slices (from the store) and in the last one (in hand)
    expect([...sealed.receipts.keys()].sort((a, b) => a - b)).toEqual(seqs);
    for (const seq of seqs) {
      const receipt = sealed.receipts.get(seq)!;
      expect(receipt).toEqual(
        await sut.inclusionProof(ORIGIN, seq, recordHashes[seq - 1], BACKLOG),
      );
      const proof = receipt.inclusionProof.map((p) => Buffer.from(p, 'base64'));
      expect(
        verifyInclusion(seq - 1, BACKLOG, leafOfRecordHash(recordHashes[seq - 1]), proof, root),
      ).toBe(true);
    }

    // the next batch appends one slice onto the backlog's tree, consistent with it
    const next = await sut.seal(
      ORIGIN,
      BACKLOG + 500,
      async (from, to) => recordHashes.slice(from - 1, to),
      [BACKLOG + 1],
    );
    expect(next.checkpoint.rootHash).toBe(inOneGo(BACKLOG + 500).root.toString('hex'));
    const consistency = await sut.consistencyProof(ORIGIN, BACKLOG, BACKLOG + 500);
    expect(
      verifyConsistency(
        BACKLOG,
        BACKLOG + 500,
        root,
        Buffer.from(next.checkpoint.rootHash, 'hex'),
        consistency,
      ),
    ).toBe(true);
    expect(consistency).toHaveLength(consistencyRanges(BACKLOG, BACKLOG + 500).length);
    expect(await alarms()).toBe(0);
  });

  it('should seal a backlog onto a witnessed checkpoint consistently, one checkpoint at its end', async () => {
    const source: LeafSource = async (from, to) => recordHashes.slice(from - 1, to);
    const first = await sut.seal(ORIGIN, 1000, source, [1000]);
    const backlog = await sut.seal(ORIGIN, BACKLOG, source, [999, 1001, BACKLOG]);

    expect(backlog.checkpoint.rootHash).toBe(inOneGo(BACKLOG).root.toString('hex'));
    expect((await sut.listCheckpoints(ORIGIN, 0, 10)).map((c) => c.size)).toEqual([1000, BACKLOG]);
    const witnessed: number[] = [];
    for await (const line of sut.witnessLines(ORIGIN)) witnessed.push(line.size);
    expect(witnessed).toEqual([1000, BACKLOG]);
    // the watch proved the backlog's tree an extension of the witnessed one: no alarm
    expect(await alarms()).toBe(0);
    expect(
      verifyConsistency(
        1000,
        BACKLOG,
        Buffer.from(first.checkpoint.rootHash, 'hex'),
        Buffer.from(backlog.checkpoint.rootHash, 'hex'),
        await sut.consistencyProof(ORIGIN, 1000, BACKLOG),
      ),
    ).toBe(true);
    expect(backlog.receipts.get(999)!.treeSize).toBe(BACKLOG);
  });

  it('should raise the witness alarm when a new checkpoint does not extend the witnessed root (review L2)', async () => {
    // the witness file holds a tree of 1000 whose root is not the one these entries give
    mkdirSync(dirname(witnessFile), { recursive: true });
    appendFileSync(
      witnessFile,
      `${JSON.stringify({
        origin: ORIGIN,
        size: 1000,
        rootHash: 'ab'.repeat(32),
        signedAt: new Date().toISOString(),
        note: 'not checked by the watch',
      })}\n`,
    );
    const source: LeafSource = async (from, to) => recordHashes.slice(from - 1, to);
    await sut.seal(ORIGIN, 1500, source, [1500]);
    expect(await alarms()).toBe(1);
    // counted under the log it is about
    const metric = await metrics.getSingleMetric('mdai_tlog_inconsistency_total')!.get();
    expect(metric.values.find((v) => v.value === 1)?.labels).toEqual({ log: 'ledger' });
  });

  it('should show every kind of log under each alarm counter at 0 from the start (an increase() alert sees its first event)', async () => {
    for (const name of [
      'mdai_tlog_inconsistency_total',
      'mdai_tlog_checkpoint_unverified_total',
      'mdai_tlog_nodes_mismatch_total',
    ]) {
      const metric = await metrics.getSingleMetric(name)!.get();
      expect([name, metric.values.map((v) => [v.labels.log, v.value]).sort()]).toEqual([
        name,
        [
          ['ledger', 0],
          ['payroll-closes', 0],
          ['vault-audit', 0],
        ],
      ]);
    }
  });

  it('should serialize a batch behind a backlog seal, and complete a backlog seal that failed mid-way', async () => {
    let failAt: number | undefined = 20_000;
    const source: LeafSource = async (from, to) => {
      if (failAt !== undefined && to >= failAt) throw new Error('the store went away');
      return recordHashes.slice(from - 1, to);
    };
    await expect(sut.seal(ORIGIN, BACKLOG, source, [])).rejects.toThrow('the store went away');
    // the slices before the failure are stored; no checkpoint yet
    expect(storedNodes().size).toBeGreaterThan(0);
    expect(await sut.latest(ORIGIN)).toBeUndefined();

    // a batch arriving while the backlog is sealed again waits for it, then adds its slice
    failAt = undefined;
    const backlog = sut.seal(ORIGIN, BACKLOG, source, [BACKLOG]);
    const batch = sut.seal(ORIGIN, BACKLOG + 500, source, [BACKLOG + 500]);
    expect((await backlog).checkpoint.size).toBe(BACKLOG);
    const after = await batch;
    expect(after.checkpoint.size).toBe(BACKLOG + 500);
    const { created, root } = inOneGo(BACKLOG + 500);
    expect(after.checkpoint.rootHash).toBe(root.toString('hex'));
    expect(compareStored(created)).toEqual({ differing: [], stored: created.length });
    expect((await sut.listCheckpoints(ORIGIN, 0, 10)).map((c) => c.size)).toEqual([
      BACKLOG,
      BACKLOG + 500,
    ]);
    expect(await alarms()).toBe(0);
  });

  it('should seal again in the background a backlog whose seal failed mid-way', async () => {
    let failing = true;
    const source: LeafSource = async (from, to) => {
      if (failing && to >= 20_000) throw new Error('the store went away');
      return recordHashes.slice(from - 1, to);
    };
    await expect(sut.seal(ORIGIN, BACKLOG, source, [])).rejects.toThrow();
    failing = false;
    // the retry runs after SEAL_RETRY_FIRST_MS
    while (!(await sut.latest(ORIGIN))) await sleep(50);
    await sut.idle(ORIGIN);
    const { created, root } = inOneGo(BACKLOG);
    expect((await sut.latest(ORIGIN))!.rootHash).toBe(root.toString('hex'));
    expect(compareStored(created)).toEqual({ differing: [], stored: created.length });
  });

  it("should read the log's latest checkpoint at each batch's seal with statements prepared once, adopting one another process stored", async () => {
    const source: LeafSource = async (from, to) => recordHashes.slice(from - 1, to);
    await sut.seal(ORIGIN, 500, source, [500]);
    // a batch's seal reads the latest row (and the stored checkpoint of a size) through
    // statements the repository prepared once: none is prepared on the connection per batch
    const prepare = jest.spyOn(store.db, 'prepare');
    try {
      const second = await sut.seal(ORIGIN, 1000, source, [1000]);
      expect(second.checkpoint.size).toBe(1000);
      expect(await sut.latest(ORIGIN)).toEqual(second.checkpoint);
      expect(await sut.checkpointAt(ORIGIN, 500)).toMatchObject({ size: 500 });
      expect(prepare).not.toHaveBeenCalled();
    } finally {
      prepare.mockRestore();
    }

    // another process (its own connection, the same key) seals past this one's head: the next
    // batch's seal here reads its checkpoint and builds on it
    const otherDir = mkdtempSync(join(tmpdir(), 'mdai-tlog-other-'));
    const otherStore = new SqliteStore(join(dir, 'mdai.sqlite'));
    const other = new TransparencyLogService(
      (await compileAdapter<TlogRepository>(otherStore, tlogAdapters)).adapter,
      new LogKeyService(tlogConfig.read({ TLOG_SIGNING_KEY: signingKey }, { dataDir: otherDir })),
      new WitnessLog(tlogConfig.read({ TLOG_SIGNING_KEY: signingKey }, { dataDir: otherDir })),
      new SystemClock(),
    );
    try {
      const foreign = await other.seal(ORIGIN, 1500, source, [1500]);
      expect(await sut.latest(ORIGIN)).toEqual(foreign.checkpoint);
      const reads: number[] = [];
      const next = await sut.seal(
        ORIGIN,
        2000,
        async (from, to) => {
          reads.push(from);
          return recordHashes.slice(from - 1, to);
        },
        [2000],
      );
      // only the entries past the other process's checkpoint are read (its tree is taken)
      expect(Math.min(...reads)).toBe(1501);
      expect(next.checkpoint.rootHash).toBe(inOneGo(2000).root.toString('hex'));
      expect(await alarms()).toBe(0);
    } finally {
      other.onModuleDestroy();
      await otherStore.close();
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});
