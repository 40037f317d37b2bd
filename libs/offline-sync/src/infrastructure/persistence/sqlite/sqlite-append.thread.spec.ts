import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jcs, storageErrorOf } from '@app/common';
import { WorkerTaskError } from '@app/common/workers/worker-pool';
import { SqliteStore } from '@app/persistence';
import {
  AttendanceLog,
  EMPTY_HEAD,
  ledgerDeviceOf,
  linkAfter,
  PendingLogEntry,
} from '../../../domain/attendance-log';
import { OfflineSyncSettings } from '../../../offline-sync.config';
import { punchEntry } from '../../../testing/punch-entry';
import { SqliteAttendanceLogRepository } from './repositories/sqlite-attendance-log.repository';
import { SqliteAppendThread } from './sqlite-append.thread';
import { SqliteChainAppender } from './sqlite-chain-appender';

const SETTINGS: OfflineSyncSettings = {
  maxOfflineAgeSeconds: 7 * 24 * 3600,
  maxPacketsPerBatch: 500,
  verifyWorkers: 0,
  verifyQueue: 64,
  appendThread: true,
};

function punches(siteId: string, n: number, from = 0): PendingLogEntry[] {
  return Array.from({ length: n }, (_, i) =>
    punchEntry({
      siteId,
      workerId: `w${(from + i) % 7}`,
      type: (from + i) % 2 === 0 ? 'check_in' : 'check_out',
      timestamp: new Date(Date.UTC(2026, 0, 1, 8, 0, from + i)).toISOString(),
    }),
  );
}

/** Every link of a site, recomputed from the genesis: seqs 1..n, each hash from the one before. */
function expectOneChain(links: AttendanceLog[]): void {
  let head = EMPTY_HEAD;
  links.forEach((link, i) => {
    expect(link.seq).toBe(i + 1);
    const again = linkAfter(head, {
      siteId: link.siteId,
      packetId: link.data.packetId,
      data: link.data,
      meta: link.meta,
    });
    expect(link.prevHash).toBe(head.recordHash);
    expect(link.recordHash).toBe(again.recordHash);
    head = { seq: link.seq, recordHash: link.recordHash };
  });
}

describe('the ledger append thread (SQLite)', () => {
  let dir: string;
  let store: SqliteStore;
  let repo: SqliteAttendanceLogRepository;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-append-thread-'));
    store = new SqliteStore(join(dir, 'ledger.sqlite'));
    repo = new SqliteAttendanceLogRepository(store, SETTINGS);
  });
  afterEach(async () => {
    await repo.onApplicationShutdown();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const thread = () => (repo as unknown as { thread?: SqliteAppendThread }).thread;

  it('should append on its own thread, the links readable from the store at once', async () => {
    expect(thread()?.threads).toBe(0); // started by the first append
    const entries = punches('s1', 40);
    const results = await repo.appendToChains(entries);
    expect(thread()?.threads).toBe(1);
    expect(results.map((r) => r.status)).toEqual(entries.map(() => 'appended'));
    expect(results.map((r) => r.log.seq)).toEqual(entries.map((_, i) => i + 1));
    const stored = await repo.readChain('s1', 0, 100);
    expect(stored).toEqual(results.map((r) => r.log));
    expectOneChain(stored);
  });

  it("should answer a packet sent again with the row stored first, as the request's thread does", async () => {
    const entries = punches('s1', 10);
    const first = await repo.appendToChains(entries);
    const again = await repo.appendToChains([...entries.slice(5), ...punches('s1', 2, 10)]);
    expect(again.map((r) => r.status)).toEqual([
      ...Array(5).fill('duplicate'),
      'appended',
      'appended',
    ]);
    expect(again.slice(0, 5).map((r) => r.log)).toEqual(first.slice(5).map((r) => r.log));
    expect(again.slice(5).map((r) => r.log.seq)).toEqual([11, 12]);
  });

  it("should let a write of the store's connection wait for the append's turn without holding the event loop", async () => {
    await repo.appendToChains(punches('s1', 1)); // the thread is up
    store.db.exec('CREATE TABLE scratch (n INTEGER)');
    // another process's writer holds SQLite's write lock: the append on the thread waits for it
    const other = new Database(store.path);
    other.exec('BEGIN IMMEDIATE');
    try {
      const appending = repo.appendToChains(punches('s1', 50, 1));
      const insert = store.db.prepare('INSERT INTO scratch (n) VALUES (1)');
      const links = store.db.prepare(
        "SELECT count(*) AS n FROM attendance_logs WHERE site_id = 's1'",
      );
      let written = false;
      // without turns this insert waits in SQLite's busy handler, the event loop asleep, and
      // fails with SQLITE_BUSY after busy_timeout (the other writer cannot commit meanwhile)
      const writing = store.writeTurns.write(() => {
        insert.run();
        written = true;
        return links.get();
      });
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(written).toBe(false);
      other.exec('COMMIT');
      // the write ran once the append had committed
      expect(await writing).toEqual({ n: 51 });
      expect((await appending).map((r) => r.status)).toEqual(Array(50).fill('appended'));
      expect(store.db.prepare('SELECT count(*) AS n FROM scratch').get()).toEqual({ n: 1 });
      expectOneChain(await repo.readChain('s1', 0, 100));
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
    }
  });

  it('should keep one chain per site when the thread and another connection append at once', async () => {
    // another writer on the same file: the request's-thread appender on the store's connection
    const direct = new SqliteChainAppender(store.db);
    const asked: Promise<unknown>[] = [];
    for (let k = 0; k < 30; k++) {
      asked.push(repo.appendToChains([...punches('s1', 20, k * 20), ...punches('s2', 5, k * 5)]));
      const extra = punches('s1', 3, 1000 + k * 3).map((e) => ({
        siteId: e.siteId,
        packetId: e.packetId,
        deviceId: ledgerDeviceOf(e.data),
        dataJcs: jcs(e.data),
        metaJcs: jcs(e.meta),
      }));
      asked.push(Promise.resolve().then(() => direct.append(extra)));
    }
    await Promise.all(asked);
    const s1 = await repo.readChain('s1', 0, 10_000);
    const s2 = await repo.readChain('s2', 0, 10_000);
    expect(s1).toHaveLength(30 * 23);
    expect(s2).toHaveLength(30 * 5);
    expectOneChain(s1);
    expectOneChain(s2);
  });

  it("should checkpoint its commits as the store's connection does once the checkpoint thread is down", async () => {
    // beside a checkpoint thread that is up, a commit checkpoints only past a backstop of
    // BACKSTOP_PAGES; with none up, SQLite's 1,000 pages for every connection, the thread's too
    const path = join(dir, 'checkpoints.sqlite');
    const withThread = new SqliteStore(path, {
      checkpoints: 'worker',
      checkpointer: { startFrames: 0 },
    });
    const ledger = new SqliteAttendanceLogRepository(withThread, SETTINGS);
    const walFrames = () => {
      const bytes = statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
      return (
        Math.max(0, bytes - 32) /
        ((withThread.db.pragma('page_size', { simple: true }) as number) + 24)
      );
    };
    try {
      // the first append starts the checkpoint thread; the next runs on the append thread at
      // the backstop
      await ledger.appendToChains(punches('s1', 10));
      while (!withThread.checkpointer!.status().up) await new Promise((r) => setTimeout(r, 5));
      await ledger.appendToChains(punches('s1', 10, 10));
      await withThread.checkpointer!.close();
      let frames = 0;
      for (let k = 0; k < 60; k++) {
        await ledger.appendToChains(punches('s1', 500, 20 + k * 500));
        frames = Math.max(frames, walFrames());
      }
      // the appends wrote several times 1,000 pages, and the WAL never held much more than that
      expect(withThread.db.pragma('page_count', { simple: true })).toBeGreaterThan(4 * 1000);
      expect(frames).toBeLessThan(2 * 1000);
      expectOneChain(await ledger.readChain('s1', 0, 40_000));
    } finally {
      await ledger.onApplicationShutdown();
      await withThread.close();
    }
    // 30,000 appends with SQLite's checkpoints in their commits: ~10 s on a quiet machine, ~30 s
    // on a busy one, 160 s beside the whole suite at load 15
  }, 300_000);

  it("should append in the request's thread when the thread is gone", async () => {
    await repo.appendToChains(punches('s1', 3));
    await thread()!.close();
    const results = await repo.appendToChains(punches('s1', 4, 3));
    expect(results.map((r) => r.log.seq)).toEqual([4, 5, 6, 7]);
    expect(thread()!.threads).toBe(0);
    expectOneChain(await repo.readChain('s1', 0, 100));
  });

  it('should answer an append the thread was stopped under as appended, whether or not it had committed', async () => {
    // the app closes the thread while a batch is on it (shutdown), at moments spread over the
    // append: some rounds commit before the thread ends, some roll back with it; either way
    // every new packet is answered appended (never a duplicate of itself, which would skip the
    // fraud screen) and the chain holds each once
    let from = 0;
    for (let round = 0; round < 24; round++) {
      const dirRound = mkdtempSync(join(tmpdir(), 'mdai-append-stop-'));
      const storeRound = new SqliteStore(join(dirRound, 'ledger.sqlite'));
      const repoRound = new SqliteAttendanceLogRepository(storeRound, SETTINGS);
      try {
        await repoRound.appendToChains(punches('s1', 5, from)); // the thread is up
        from += 5;
        const batch = punches('s1', 500, from);
        from += 500;
        const asked = repoRound.appendToChains(batch);
        await new Promise((resolve) => setTimeout(resolve, round % 12));
        const closing = repoRound.onApplicationShutdown();
        const results = await asked;
        await closing;
        expect(results.map((r) => r.status)).toEqual(batch.map(() => 'appended'));
        expect(results.map((r) => r.log.seq)).toEqual(batch.map((_, i) => 6 + i));
        const stored = await repoRound.readChain('s1', 0, 1000);
        expect(stored).toHaveLength(505);
        expectOneChain(stored);
      } finally {
        await storeRound.close();
        rmSync(dirRound, { recursive: true, force: true });
      }
    }
    // 24 threads started and stopped: ~15–20 s on a loaded 2-core machine, but a thread's
    // start (its script compiled under @swc-node/register) took 5–10 s each at load 15, and
    // the rounds passed 120 s: the bound is on a hang, not on speed
  }, 480_000);

  it("should hand the driver's error code over, so a full disk still maps to 507", async () => {
    await repo.appendToChains(punches('s1', 1));
    store.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON attendance_logs
      BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
    const failed = await repo.appendToChains(punches('s1', 2, 1)).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(WorkerTaskError);
    expect((failed as WorkerTaskError).code).toBe('SQLITE_CONSTRAINT_TRIGGER');
    // nothing of the refused call was written
    expect(await repo.readChain('s1', 0, 100)).toHaveLength(1);
    expect(thread()!.threads).toBe(1);
    expect(
      storageErrorOf(
        new WorkerTaskError({ name: 'SqliteError', message: 'x', code: 'SQLITE_FULL' }),
      )?.code,
    ).toBe('storage_full');
  });

  it('should stop starting a thread that cannot open the file after three tries', async () => {
    // the worker's script throws at load (SQLITE_CANTOPEN): each task dies with its thread
    const broken = new SqliteAppendThread(join(dir, 'no-such-dir', 'ledger.sqlite'), 4);
    const texts = [{ siteId: 's1', packetId: 'p1', deviceId: 'd1', dataJcs: '{}', metaJcs: '{}' }];
    try {
      expect(await broken.run(texts, 1000)).toBe('interrupted');
      expect(await broken.run(texts, 1000)).toBe('interrupted');
      expect(await broken.run(texts, 1000)).toBe('interrupted');
      // from now on the caller appends in its own thread, and no thread is started again
      expect(await broken.run(texts, 1000)).toBe('not_run');
      expect(broken.threads).toBe(0);
    } finally {
      await broken.close();
    }
    // three thread starts: 17–63 s at load 15–25 (each compiles its script first)
  }, 300_000);

  it('should run no thread for an in-memory store (another connection is another database)', async () => {
    const memory = new SqliteStore(':memory:');
    const inMemory = new SqliteAttendanceLogRepository(memory, SETTINGS);
    try {
      expect((inMemory as unknown as { thread?: SqliteAppendThread }).thread).toBeUndefined();
      const results = await inMemory.appendToChains(punches('s1', 3));
      expect(results.map((r) => r.log.seq)).toEqual([1, 2, 3]);
    } finally {
      await inMemory.onApplicationShutdown();
      await memory.close();
    }
  });
});
