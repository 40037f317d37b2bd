import { MetricsRegistry } from '@app/common';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AUTOCHECKPOINT_PAGES,
  BACKSTOP_PAGES,
  SqliteCheckpointerOptions,
} from './sqlite-checkpointer';
import { CHECKPOINT_THREAD_NICE_STEP } from './sqlite-checkpoint.loop';
import { SqliteStore } from './sqlite-store';
import { SqliteStoreMetrics } from './sqlite-store.metrics';
import { WalIndexHeader } from './sqlite-wal-index';

const testing = (name: string) => join(__dirname, 'testing', `${name}.worker.ts`);

/** This process's threads (task ids) and their nice values, as Linux reports them. */
function threadNices(): Map<string, number> {
  const nices = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // after "pid (comm) ": the state is field 3, the nice value field 19
      nices.set(tid, Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[16]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return nices;
}

/** Waits (letting the event loop turn) until `condition` holds; fails after a generous deadline. */
async function until(condition: () => boolean, what: string, each?: () => void): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    each?.();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('SqliteCheckpointer', () => {
  // each wait has its own (generous) deadline; a loaded machine may need several of them
  jest.setTimeout(120_000);

  let dir: string;
  let stores: SqliteStore[];
  /** A store whose thread is not started yet (the first write turn starts it, unless told). */
  const openIdle = (checkpointer: SqliteCheckpointerOptions = {}) => {
    const store = new SqliteStore(join(dir, 'store.sqlite'), {
      checkpoints: 'worker',
      // checkpoints from the first 64 KiB of WAL on, every 20 ms
      checkpointer: {
        startBytes: 64 * 1024,
        intervalMs: 20,
        quietMs: 200,
        startFrames: 0,
        ...checkpointer,
      },
    });
    stores.push(store);
    return store;
  };
  /** A store whose thread is starting: its table created by a first write turn. */
  const open = async (checkpointer: SqliteCheckpointerOptions = {}) => {
    const store = openIdle(checkpointer);
    await store.writeTurns.write(() =>
      store.db.exec('CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)'),
    );
    return store;
  };
  const writer = (store: SqliteStore) => {
    const insert = store.db.prepare('INSERT INTO rows (body) VALUES (?)');
    // ~100 KiB of rows per commit
    return store.db.transaction(() => {
      for (let i = 0; i < 25; i++) insert.run('x'.repeat(4000));
    });
  };
  const backstop = (store: SqliteStore) =>
    store.db.pragma('wal_autocheckpoint', { simple: true }) as number;
  /**
   * A reader of the store's wal-index header, closed after the stores (closing a descriptor of
   * the -shm file releases the process's locks on it: `WalIndexHeader`).
   */
  let headers: WalIndexHeader[];
  const walIndexOf = (store: SqliteStore) => {
    const header = new WalIndexHeader(store.path);
    headers.push(header);
    return header;
  };
  const walBytes = (store: SqliteStore) =>
    statSync(`${store.path}-wal`, { throwIfNoEntry: false })?.size ?? 0;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-checkpointer-'));
    stores = [];
    headers = [];
  });
  afterEach(async () => {
    await Promise.all(stores.map((store) => store.close()));
    headers.forEach((header) => header.close());
    rmSync(dir, { recursive: true, force: true });
  });

  it("should checkpoint the WAL on its thread between the main connection's commits, then truncate it", async () => {
    const sut = await open({ intervalMs: 5 });
    const write = writer(sut);
    await until(() => sut.checkpointer!.status().up, 'the thread is up');
    expect(backstop(sut)).toBe(BACKSTOP_PAGES);
    // 10 MiB in commits of ~100 KiB; after each, the thread reports twice, the second time with
    // every frame copied: the next commit then starts the WAL over from its beginning
    let commits = 0;
    while (commits < 100) {
      write();
      commits += 1;
      let seen = sut.checkpointer!.status().frames;
      let fresh = 0;
      await until(() => {
        const frames = sut.checkpointer!.status().frames;
        if (frames !== seen) [seen, fresh] = [frames, fresh + 1];
        if (fresh >= 2 && frames!.checkpointed === frames!.log) return true;
        // or, when this thread looked late (a loaded machine), the WAL truncated since: the file
        // tells, not the report (one from before this commit may arrive only now)
        return fresh >= 1 && walBytes(sut) === 0;
      }, 'every frame copied by the thread');
    }
    // a commit on a thread-less connection would let the WAL grow to 1,000 pages (~4 MiB) and
    // with the backstop to 10,000 (~40 MiB): the thread kept it to a few commits
    expect(walBytes(sut)).toBeLessThan(1024 * 1024);
    // the burst is over: the thread truncates the WAL
    await until(
      () => sut.checkpointer!.status().frames?.log === 0 && walBytes(sut) === 0,
      'the thread reporting the WAL truncated',
    );
    expect(sut.checkpointer!.status().frames).toEqual({ log: 0, checkpointed: 0 });
    expect(walBytes(sut)).toBe(0);
    const other = new Database(sut.path, { readonly: true });
    expect(other.prepare('SELECT count(*) AS n FROM rows').get()).toEqual({ n: commits * 25 });
    other.close();
  });

  (process.platform === 'linux' ? it : it.skip)(
    'should run its thread at a lower priority than the threads serving requests',
    async () => {
      const before = threadNices();
      const mine = before.get(String(process.pid));
      const sut = await open();
      await until(() => sut.checkpointer!.status().up, 'the thread is up');
      const now = threadNices();
      const lowered = [...now].filter(([tid, nice]) => !before.has(tid) && nice !== mine);
      const nice = Math.min(19, mine! + CHECKPOINT_THREAD_NICE_STEP);
      expect(lowered).toEqual([[expect.any(String), nice]]);
      // the thread's own: this one (the event loop's) keeps the process's
      expect(now.get(String(process.pid))).toBe(mine);
      await sut.close();
      await until(() => !threadNices().has(lowered[0][0]), 'the thread gone');
    },
  );

  it('should pause the writers of a steady stream of commits so that the WAL starts over, below the backstop', async () => {
    const sut = await open({ paceFrames: 400 });
    const insert = sut.db.prepare('INSERT INTO rows (body) VALUES (?)');
    // ~20 KiB (5 pages) per commit, one every millisecond or so: a stream with no gap long
    // enough for the thread's checkpoint (a copy and an fsync) to find every frame copied
    const write = sut.db.transaction(() => {
      for (let i = 0; i < 5; i++) insert.run('x'.repeat(4000));
    });
    await until(() => sut.checkpointer!.status().up, 'the thread is up');
    let most = 0;
    let restarts = 0;
    let last = 0;
    const commits = 1600;
    for (let i = 0; i < commits; i++) {
      await sut.writeTurns.write(() => write());
      const log = sut.checkpointer!.status().frames?.log ?? 0;
      if (log < last) restarts += 1;
      [last, most] = [log, Math.max(most, log)];
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    // 8,000 pages written: without the pauses the WAL never starts over (it would grow to the
    // backstop, where every commit of the main connection checkpoints it itself); with them,
    // it starts over every few hundred frames
    const pauses = sut.checkpointer!.status().pauses;
    expect(pauses).toBeGreaterThan(0);
    expect(restarts).toBeGreaterThanOrEqual(5);
    // and /metrics counts them
    const registry = new MetricsRegistry();
    new SqliteStoreMetrics(sut, registry);
    const metric = await registry.getSingleMetric('mdai_sqlite_write_pauses_total')!.get();
    expect(metric.values[0].value).toBe(pauses);
    expect(most).toBeLessThan(BACKSTOP_PAGES / 2);
    expect(sut.db.prepare('SELECT count(*) AS n FROM rows').get()).toEqual({ n: commits * 5 });
  });

  it("should have the WAL copied and started over once it holds paceFrames, without waiting for the thread's report", async () => {
    // a thread that checkpoints only when asked: its reports (after a checkpoint that takes
    // 100–250 ms on a busy disk) come too late to pace a steady writer by
    const sut = await open({ paceFrames: 200, intervalMs: 60_000 });
    const write = sut.db.transaction(() => {
      const insert = sut.db.prepare('INSERT INTO rows (body) VALUES (?)');
      for (let i = 0; i < 5; i++) insert.run('x'.repeat(4000));
    });
    await until(() => sut.checkpointer!.status().up, 'the thread is up');
    const header = walIndexOf(sut);
    let [most, last, restarts] = [0, 0, 0];
    // 2,000 pages in commits of 5: without a checkpoint the WAL would hold them all
    for (let i = 0; i < 400; i++) {
      await sut.writeTurns.write(() => write());
      const frames = header.frames()!;
      if (frames < last) restarts += 1;
      [last, most] = [frames, Math.max(most, frames)];
      await new Promise((resolve) => setImmediate(resolve));
    }
    // copied from the mark on, the writers pausing for the rest at twice the mark (a few commits
    // more when a copy's answer comes late on a loaded machine): not the 2,800 frames written
    expect(restarts).toBeGreaterThanOrEqual(2);
    expect(most).toBeLessThan(3 * 200);
    expect(sut.db.prepare('SELECT count(*) AS n FROM rows').get()).toEqual({ n: 2000 });
  });

  it('should pause the writers for the rest of a copy only, once most of the WAL is copied', async () => {
    // every frame the thread copies in the background is one a pause does not wait for: the
    // writers go on while it copies, and pause when what is left is a quarter of the mark
    const sut = await open({ paceFrames: 200, intervalMs: 60_000 });
    const write = writer(sut);
    await until(() => sut.checkpointer!.status().up, 'the thread is up');
    const header = walIndexOf(sut);
    const rests: number[] = [];
    for (let i = 0; i < 60; i++) {
      const before = sut.checkpointer!.status();
      const at = header.read()!;
      await sut.writeTurns.write(() => write());
      // (a pause at twice the mark waits for whatever is left: a copy slower than the writes)
      const paused = sut.checkpointer!.status().pauses > before.pauses;
      if (paused && at.frames < 2 * 200) rests.push(at.frames - at.backfilled);
      // the thread's copy, when this write asked one, done before the next write: waited for
      // (the header's count of copied frames), not slept for (20 ms can be too few for this
      // niced thread on a loaded machine: the WAL reaches twice the mark first, no rest seen);
      // or the thread restarted meanwhile (its watchdog ends a thread silent for that long,
      // and the copy asked of it is not asked again)
      if (sut.checkpointer!.status().copies > before.copies) {
        const asked = header.read()!.frames;
        // and its report taken in (a copy answered in the header but not yet reported leaves
        // the copy asked, so the next writes go on rather than pause: none seen at all when the
        // report comes late, as with the other core busy)
        await until(
          () =>
            (header.read()!.backfilled >= asked &&
              sut.checkpointer!.status().frames !== before.frames) ||
            sut.checkpointer!.status().starts > before.starts,
          'the copy asked, reported',
        );
      }
    }
    expect(rests.length).toBeGreaterThan(0);
    for (const rest of rests) expect(rest).toBeLessThanOrEqual(200 / 4);
  });

  it('should start the WAL over on its thread in a pause, so that no writer of the loop syncs its header', async () => {
    const sut = await open({ paceFrames: 100 });
    const write = writer(sut);
    await until(() => sut.checkpointer!.status().up, 'the thread is up');
    // written outside the turns (no pace): the WAL holds twice the mark, most of it not copied
    const header = walIndexOf(sut);
    while (header.frames()! < 200) write();
    // a pause, and no write of this connection after it
    const pauses = sut.checkpointer!.status().pauses;
    await sut.writeTurns.write(() => undefined);
    expect(sut.checkpointer!.status().pauses).toBe(pauses + 1);
    // the WAL holds one frame: the thread's own write, which started it over
    const other = new Database(sut.path);
    const [wal] = other.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    other.close();
    expect(wal.log).toBe(1);
    expect(sut.db.pragma('user_version', { simple: true })).toBe(0);
  });

  it('should not write on the thread once the writers went on after paceMaxMs', async () => {
    // (no truncate when the writes stop: the WAL's frames are what the test reads)
    const sut = await open({
      file: testing('late-checkpoint'),
      paceFrames: 100,
      paceMaxMs: 50,
      quietMs: 60_000,
    });
    const write = writer(sut);
    await until(() => sut.checkpointer!.status().up, 'the thread is up');
    const reported = () => (sut.checkpointer!.status().frames?.log ?? 0) >= 100;
    await until(reported, 'a report of 100 frames or more', write);
    // the writers wait 50 ms, go on; the thread runs the checkpoint 300 ms after it was asked
    await sut.writeTurns.write(() => undefined);
    // (no sign tells when it ran: twice its delay; on a machine too slow for that, this test
    // passes without having shown anything, it cannot fail wrongly)
    await new Promise((resolve) => setTimeout(resolve, 600));
    // it copied every frame but did not start the WAL over: the writers were no longer waiting
    const other = new Database(sut.path);
    const [wal] = other.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    other.close();
    expect(wal.log).toBeGreaterThan(1);
  });

  it('should pause the writers when the thread could not checkpoint because another connection did', async () => {
    // every tick reports -1 frames, as SQLite does when the main connection, past its backstop,
    // checkpoints in its commits
    const sut = await open({ file: testing('busy-checkpoint'), paceFrames: 1_000_000 });
    const write = writer(sut);
    await until(() => sut.checkpointer!.status().up, 'the thread is up');
    await until(() => sut.checkpointer!.status().frames?.log === -1, 'a busy report', write);
    const pauses = sut.checkpointer!.status().pauses;
    await sut.writeTurns.write(() => write());
    expect(sut.checkpointer!.status().pauses).toBe(pauses + 1);
  });

  it('should let the writers go on after paceMaxMs when the thread does not answer, and not pause them again', async () => {
    const sut = await open({ file: testing('deaf-checkpoint'), paceFrames: 1, paceMaxMs: 50 });
    const write = writer(sut);
    await until(() => sut.checkpointer!.status().up, 'the thread is up');
    const copied = () => {
      const frames = sut.checkpointer!.status().frames;
      return frames !== undefined && frames.log > 0 && frames.checkpointed === frames.log;
    };
    await until(copied, 'a report of frames copied', write);
    // the writer waits for a checkpoint the thread never runs, then goes on
    const pauses = sut.checkpointer!.status().pauses;
    await expect(sut.writeTurns.write(() => 'written')).resolves.toBe('written');
    expect(sut.checkpointer!.status().pauses).toBe(pauses + 1);
    // while that checkpoint is unanswered (a slow disk), newer reports pause no one
    const seen = sut.checkpointer!.status().frames;
    await until(
      () => sut.checkpointer!.status().frames !== seen && copied(),
      'a newer report',
      write,
    );
    await sut.writeTurns.write(() => write());
    expect(sut.checkpointer!.status().pauses).toBe(pauses + 1);
  });

  it('should not pause the writers while a reader holds frames back, nor ask a copy at each write, and pause them again after', async () => {
    const sut = await open({ paceFrames: 1 });
    const write = writer(sut);
    await until(() => sut.checkpointer!.status().up, 'the thread is up');
    write();
    // a reader's snapshot keeps the frames written after it from being copied: the WAL cannot
    // start over, pause or not
    const reader = new Database(sut.path, { readonly: true });
    reader.prepare('BEGIN').run();
    reader.prepare('SELECT count(*) FROM rows').get();
    const held = () => {
      const frames = sut.checkpointer!.status().frames;
      return frames !== undefined && frames.checkpointed < frames.log;
    };
    // a pause's checkpoint cannot copy them (a copy's could not tell: a commit under way during
    // it holds frames back too)
    await until(
      () => sut.checkpointer!.status().framesHeld && held(),
      'a pause that found frames held back',
      () => void sut.writeTurns.write(() => write()),
    );
    const { pauses, copies } = sut.checkpointer!.status();
    for (let i = 0; i < 20; i++) {
      await sut.writeTurns.write(() => write());
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(sut.checkpointer!.status().pauses).toBe(pauses);
    // nor ask the thread a copy at each write (its ticks tell when the reader is done)
    expect(sut.checkpointer!.status().copies).toBe(copies);
    // the reader is done: the writers pause again
    reader.prepare('COMMIT').run();
    reader.close();
    await until(
      () => sut.checkpointer!.status().pauses > pauses,
      'a pause',
      () => void sut.writeTurns.write(() => write()),
    );
  });

  it('should restart a thread that dies, with waits in between', async () => {
    const sut = await open({ file: testing('exiting-checkpoint'), restartFirstMs: 10 });
    const write = writer(sut);
    await until(() => sut.checkpointer!.status().starts >= 3, 'two restarts', write);
    await until(() => sut.checkpointer!.status().up, 'the third thread up');
    expect(backstop(sut)).toBe(BACKSTOP_PAGES);
  });

  it('should give the main connection the 1,000-page autocheckpoint while no thread is up', async () => {
    // the thread dies at its first checkpoint and is not restarted within the test
    const sut = await open({ file: testing('exiting-checkpoint'), restartFirstMs: 3_600_000 });
    const write = writer(sut);
    await until(() => sut.checkpointer!.status().up, 'the thread is up');
    expect(backstop(sut)).toBe(BACKSTOP_PAGES);
    expect(sut.autocheckpointPages()).toBe(BACKSTOP_PAGES);
    await until(() => !sut.checkpointer!.status().up, 'the thread dead', write);
    expect(backstop(sut)).toBe(AUTOCHECKPOINT_PAGES);
    // what the store's other connections follow (the ledger's append thread)
    expect(sut.autocheckpointPages()).toBe(AUTOCHECKPOINT_PAGES);
    expect(sut.checkpointer!.status().starts).toBe(1);
  });

  it('should end a stuck thread (the watchdog) and start another', async () => {
    const sut = await open({
      file: testing('stuck-checkpoint'),
      watchdogMs: 400,
      restartFirstMs: 10,
    });
    await until(() => sut.checkpointer!.status().starts >= 2, 'a restart of the stuck thread');
  });

  it('should end the thread and its connection on close', async () => {
    const sut = await open();
    writer(sut)();
    await until(() => sut.checkpointer!.status().up, 'the thread is up');
    await sut.checkpointer!.close();
    expect(sut.checkpointer!.status().up).toBe(false);
    expect(backstop(sut)).toBe(AUTOCHECKPOINT_PAGES);
    // the main connection, closing last (the thread's is closed), removes the WAL
    await sut.close();
    expect(existsSync(`${sut.path}-wal`)).toBe(false);
  });

  it('should start its thread with the first write turn to find startFrames in the WAL, not with the store', async () => {
    const sut = openIdle({ startFrames: 20 });
    // reads, writes outside the turns (migrations at open) and short writes start no thread:
    // SQLite's own checkpoints meanwhile
    sut.db.exec('CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    sut.db.prepare('SELECT count(*) FROM rows').get();
    await sut.writeTurns.write(() => sut.db.prepare("INSERT INTO rows (body) VALUES ('x')").run());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sut.checkpointer!.status()).toMatchObject({ up: false, thread: 'idle', starts: 0 });
    expect(sut.healthDetails()).toMatchObject({ checkpointThread: 'idle' });
    const registry = new MetricsRegistry();
    new SqliteStoreMetrics(sut, registry);
    const states = async () =>
      (await registry.getSingleMetric('mdai_sqlite_checkpoint_thread')!.get()).values
        .filter((v) => v.value === 1)
        .map((v) => v.labels.state);
    expect(await states()).toEqual(['idle']);
    expect(backstop(sut)).toBe(AUTOCHECKPOINT_PAGES);
    // ~100 KiB: the next write turn finds the WAL past 20 frames and starts the thread; it
    // writes on at once (the thread is up within ms)
    await sut.writeTurns.write(() => writer(sut)());
    expect(sut.checkpointer!.status()).toMatchObject({ thread: 'idle', starts: 0 });
    await sut.writeTurns.write(() => writer(sut)());
    expect(sut.checkpointer!.status()).toMatchObject({ thread: 'starting', starts: 1 });
    await until(() => sut.checkpointer!.status().up, 'the thread is up');
    expect(backstop(sut)).toBe(BACKSTOP_PAGES);
    expect(await states()).toEqual(['up']);
    // and once only
    for (let i = 0; i < 5; i++) await sut.writeTurns.write(() => writer(sut)());
    expect(sut.checkpointer!.status().starts).toBe(1);
  });

  it("should report the WAL's peaks: the most frames it held, and the most one write turn added", async () => {
    // no thread (SQLite's own checkpoints at 1,000 pages): the frames are the writes' alone
    const sut = openIdle({ startFrames: 1_000_000 });
    sut.db.exec('CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const rows = (n: number) => () => {
      const insert = sut.db.prepare('INSERT INTO rows (body) VALUES (?)');
      for (let i = 0; i < n; i++) insert.run('x'.repeat(4000));
    };
    const header = walIndexOf(sut);
    // what each write turn finds, read just before it (nothing else writes in between)
    const headers: { frames: number; salt: number }[] = [];
    const turn = async (write: () => void) => {
      headers.push(header.read()!);
      await sut.writeTurns.write(sut.db.transaction(write));
    };
    for (let i = 0; i < 5; i++) await turn(rows(3));
    await turn(rows(60));
    for (let i = 0; i < 5; i++) await turn(rows(3));
    // every frame copied outside the turns: the next turn's write starts the WAL over (a new
    // salt), so its frames are all new, though the WAL ends up longer than before
    sut.db.pragma('wal_checkpoint(PASSIVE)');
    await turn(rows(150));
    await turn(() => undefined);
    const seen = headers.map((h) => h.frames);
    const added = headers
      .slice(1)
      .map((h, i) => (h.salt === headers[i].salt ? h.frames - headers[i].frames : h.frames));
    expect(added[5]).toBeGreaterThanOrEqual(60);
    const largest = Math.max(...added);
    expect(largest).toBe(added.at(-1));
    expect(largest).toBeGreaterThanOrEqual(150);
    expect(headers.at(-1)!.salt).not.toBe(headers.at(-2)!.salt);
    expect(seen.at(-1)).toBeGreaterThan(seen.at(-2)!);
    const peaks = { wal: Math.max(...seen), turn: largest };
    expect(sut.checkpointer!.status().peaks).toEqual(peaks);
    const registry = new MetricsRegistry();
    new SqliteStoreMetrics(sut, registry);
    const metric = await registry.getSingleMetric('mdai_sqlite_wal_frames_peak')!.get();
    expect(Object.fromEntries(metric.values.map((v) => [v.labels.of, v.value]))).toEqual(peaks);
  });

  it('should let the writes go on when a thread cannot be made, and try again later', async () => {
    // a relative path without ./ : new Worker throws at once (ERR_WORKER_PATH)
    const sut = await open({ file: 'no-such-checkpoint.worker.js', restartFirstMs: 20 });
    const write = writer(sut);
    for (let i = 0; i < 3; i++) await sut.writeTurns.write(() => write());
    expect(sut.checkpointer!.status()).toMatchObject({ up: false, thread: 'restarting' });
    expect(backstop(sut)).toBe(AUTOCHECKPOINT_PAGES);
    await until(() => sut.checkpointer!.status().starts >= 3, 'two more tries');
    const other = new Database(sut.path, { readonly: true });
    expect(other.prepare('SELECT count(*) AS n FROM rows').get()).toEqual({ n: 3 * 25 });
    other.close();
  });

  it('should start no thread when closed before its first write', async () => {
    const sut = openIdle();
    sut.db.exec('CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    await sut.checkpointer!.close();
    await sut.writeTurns.write(() => writer(sut)());
    expect(sut.checkpointer!.status()).toMatchObject({ thread: 'closed', starts: 0 });
    expect(backstop(sut)).toBe(AUTOCHECKPOINT_PAGES);
  });

  it('should start no thread with connection checkpoints, nor for an in-memory store', async () => {
    const connection = new SqliteStore(join(dir, 'store.sqlite'), { checkpoints: 'connection' });
    const memory = new SqliteStore(':memory:', { checkpoints: 'worker' });
    const unsaid = new SqliteStore(join(dir, 'default.sqlite'));
    stores.push(connection, memory, unsaid);
    for (const sut of [connection, memory, unsaid]) {
      expect(sut.checkpointer).toBeUndefined();
      expect(sut.checkpoints).toBe('connection');
      expect(backstop(sut)).toBe(AUTOCHECKPOINT_PAGES);
    }
  });
});
