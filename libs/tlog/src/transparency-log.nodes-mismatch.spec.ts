import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Clock, MetricsRegistry } from '@app/common';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { tlogAdapters } from './infrastructure/persistence/tlog-persistence';
import { TlogRepository } from './infrastructure/persistence/tlog.repository';
import { LogKeyService } from './log-key.service';
import { generateTlogKey, tlogConfig, TlogSettings } from './tlog.config';
import {
  ENTRIES_MISMATCH_TTL_MS,
  LeafSource,
  TransparencyLogService,
} from './transparency-log.service';
import { WitnessLog } from './witness-log';

const ORIGIN = 'test.local/ledger/mismatch';
const hashOf = (text: string) => createHash('sha256').update(text).digest('hex');
const genuine = Array.from({ length: 16 }, (_, i) => hashOf(`entry ${i + 1}`));
const forged = Array.from({ length: 16 }, (_, i) => hashOf(`forged ${i + 1}`));

class MovableClock extends Clock {
  at = Date.parse('2026-12-01T00:00:00Z');
  now(): Date {
    return new Date(this.at);
  }
}

/**
 * Review LV #3 follow-ups: stored Merkle nodes that do not give the signed root, as one process
 * (`b`, a fresh head: a restart or a replica) finds them; `a` sealed the log.
 */
describe('TransparencyLogService over rewritten Merkle nodes (SQLite file)', () => {
  let dir: string;
  let store: SqliteStore;
  let repo: TlogRepository;
  let settings: TlogSettings;
  let clock: MovableClock;
  let metrics: MetricsRegistry;
  let a: TransparencyLogService;
  let b: TransparencyLogService;
  const source: LeafSource = async (from, to) => genuine.slice(from - 1, to);

  const service = (m?: MetricsRegistry) =>
    new TransparencyLogService(
      repo,
      new LogKeyService(settings),
      new WitnessLog(settings),
      clock,
      m,
    );

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-tlog-mismatch-'));
    store = new SqliteStore(join(dir, 'mdai.sqlite'));
    repo = (await compileAdapter<TlogRepository>(store, tlogAdapters)).adapter;
    settings = tlogConfig.read({ TLOG_SIGNING_KEY: generateTlogKey() }, { dataDir: dir });
    clock = new MovableClock();
    metrics = new MetricsRegistry();
    a = service();
    b = service(metrics);
    await a.seal(ORIGIN, 4, source, [4]);
  });

  afterEach(async () => {
    a.onModuleDestroy();
    b.onModuleDestroy();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const node = (level: number, index: number): Buffer =>
    store.db
      .prepare<[string, number, number], { hash: Buffer }>(
        `SELECT hash FROM tlog_nodes WHERE log_id = (SELECT id FROM tlog_logs WHERE origin = ?)
         AND level = ? AND idx = ?`,
      )
      .get(ORIGIN, level, index)!.hash;
  const setNode = (level: number, index: number, hash: Buffer) =>
    store.db
      .prepare(
        `UPDATE tlog_nodes SET hash = ? WHERE log_id = (SELECT id FROM tlog_logs WHERE origin = ?)
         AND level = ? AND idx = ?`,
      )
      .run(hash, ORIGIN, level, index);
  const mismatchCount = async () =>
    (await metrics.getSingleMetric('mdai_tlog_nodes_mismatch_total')!.get()).values.reduce(
      (sum, v) => sum + v.value,
      0,
    );

  it('should not list the log on /health while a rebuild that succeeds runs, and alarm up front', async () => {
    const good = node(2, 0);
    setNode(2, 0, Buffer.alloc(32, 5));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const reading = new Promise<void>((resolve) => (entered = resolve));
    b.addLeafSources((origin) =>
      origin === ORIGIN
        ? async (from, to) => {
            entered();
            await gate;
            return genuine.slice(from - 1, to);
          }
        : undefined,
    );
    const checked = b.checkNodes(ORIGIN);
    await reading;
    // the rebuild is running: the alarm and the metric are out, the log is not degraded
    expect(await mismatchCount()).toBe(1);
    expect(b.mismatchedNodes()).toEqual([]);
    release();
    expect(await checked).toBe(true);
    expect(node(2, 0)).toEqual(good);
    expect(b.mismatchedNodes()).toEqual([]);
  });

  it('should not read entries that do not give a root again for a checkpoint extending it, until the finding expires', async () => {
    setNode(2, 0, Buffer.alloc(32, 5));
    let entries = forged;
    let reads = 0;
    b.addLeafSources((origin) =>
      origin === ORIGIN
        ? async (from, to) => {
            reads++;
            return entries.slice(from - 1, to);
          }
        : undefined,
    );
    expect(await b.checkNodes(ORIGIN)).toBe(false);
    expect(b.mismatchedNodes()).toEqual([expect.objectContaining({ origin: ORIGIN, size: 4 })]);
    expect(b.mismatchedNodes()[0].reason).toContain("the log's entries do not give that root");
    const afterFirst = reads;
    expect(afterFirst).toBeGreaterThan(0);

    // `a` (its head in hand) seals past it; the node of the tree of 8 rewritten too
    await a.seal(ORIGIN, 8, source, [8]);
    const good = node(3, 0);
    setNode(3, 0, Buffer.alloc(32, 6));
    expect(await b.checkNodes(ORIGIN)).toBe(false);
    expect(b.mismatchedNodes()).toEqual([expect.objectContaining({ size: 8 })]);
    expect(reads).toBe(afterFirst);

    // the operator restores the entries: read again once the finding expired, no restart
    entries = genuine;
    clock.at += ENTRIES_MISMATCH_TTL_MS - 1;
    expect(await b.checkNodes(ORIGIN)).toBe(false);
    expect(reads).toBe(afterFirst);
    clock.at += 1;
    expect(await b.checkNodes(ORIGIN)).toBe(true);
    expect(reads).toBeGreaterThan(afterFirst);
    expect(node(3, 0)).toEqual(good);
    expect(b.mismatchedNodes()).toEqual([]);
  });

  it('should clear a refused log from /health when its nodes are put back, with no seal (recheckMismatched)', async () => {
    const good = node(2, 0);
    setNode(2, 0, Buffer.alloc(32, 5));
    b.addLeafSources((origin) =>
      origin === ORIGIN ? async (from, to) => forged.slice(from - 1, to) : undefined,
    );
    expect(await b.checkNodes(ORIGIN)).toBe(false);
    await b.recheckMismatched();
    expect(b.mismatchedNodes()).toHaveLength(1);

    setNode(2, 0, good);
    // at most once a second
    await b.recheckMismatched();
    expect(b.mismatchedNodes()).toHaveLength(1);
    clock.at += 1000;
    await b.recheckMismatched();
    expect(b.mismatchedNodes()).toEqual([]);
    expect((await b.seal(ORIGIN, 6, source, [6])).checkpoint.size).toBe(6);
  });
});
