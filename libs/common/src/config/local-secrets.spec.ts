import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  breakLock,
  isStale,
  readStored,
  SECRETS_FILE,
  SECRETS_LOCK_LIVE_STALE_MS,
  SECRETS_LOCK_STALE_MS,
  updateStored,
} from './local-secrets';

const bootFile = '/proc/sys/kernel/random/boot_id';
/** This process's pid space (boot and pid namespace), as a lock names it; undefined off Linux. */
const here = existsSync(bootFile)
  ? { boot: readFileSync(bootFile, 'utf8').trim(), ns: readlinkSync('/proc/self/ns/pid') }
  : undefined;
/** A lock as a process of this pid space writes it. */
const lockOf = (pid: number, nonce: string) =>
  `${hostname()} ${pid} ${nonce} ${here!.boot} ${here!.ns}\n`;
const onLinux = here ? it : it.skip;
const aged = (path: string, ms = SECRETS_LOCK_LIVE_STALE_MS + 10_000) => {
  const old = new Date(Date.now() - ms);
  utimesSync(path, old, old);
};
/** Older than the stale age of a holder whose pid cannot be checked, not of a live one. */
const PAST_STALE_MS = SECRETS_LOCK_STALE_MS + 10_000;

/** Review L-8: secrets.json's lock, as a process that died holding it leaves it. */
describe('updateStored', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-secrets-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  onLinux('should take over a lock whose holder is gone, or held past the stale age', () => {
    const file = join(dir, SECRETS_FILE);
    const lock = `${file}.lock`;
    // a pid no process has in this pid namespace
    writeFileSync(lock, lockOf(2147483646, 'dead'));
    updateStored(file, (stored) => {
      stored.A = '1';
      return true;
    });
    expect(readStored(file)).toEqual({ A: '1' });
    expect(existsSync(lock)).toBe(false);
    // a live holder (the test runner's parent) that has not touched it past the stale age
    writeFileSync(lock, lockOf(process.ppid, 'stopped'));
    aged(lock);
    updateStored(file, (stored) => {
      stored.B = '2';
      return true;
    });
    expect(readStored(file)).toEqual({ A: '1', B: '2' });
    expect(existsSync(lock)).toBe(false);
    // the file is written whole (mode 0600), nothing left beside it
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ A: '1', B: '2' });
  });

  onLinux(
    "should take over a fresh lock left under this process's pid by an earlier process of its pid namespace (review LOW-4)",
    () => {
      const file = join(dir, SECRETS_FILE);
      const lock = `${file}.lock`;
      // the dead holder had our pid in this namespace
      writeFileSync(lock, lockOf(process.pid, 'crashed'));
      updateStored(file, (stored) => {
        stored.A = '1';
        return true;
      });
      expect(readStored(file)).toEqual({ A: '1' });
      expect(existsSync(lock)).toBe(false);
    },
  );

  onLinux(
    "should check a lock's pid only in this boot and pid namespace; elsewhere its age alone says it is stale",
    () => {
      const lock = join(dir, `${SECRETS_FILE}.lock`);
      const otherBoot = here!.boot.replace(/^./, (c) => (c === '0' ? '1' : '0'));
      const foreign = [
        // another container of this hostname sharing DATA_DIR, its pid 1 being ours or not
        `${hostname()} ${process.pid} live ${here!.boot} pid:[1]\n`,
        `${hostname()} 2147483646 live ${here!.boot} pid:[1]\n`,
        // another host of this hostname (another kernel: the same namespace inode says nothing)
        `${hostname()} 2147483646 live ${otherBoot} ${here!.ns}\n`,
        // a lock of an older version (no namespace), or of a system without /proc
        `${hostname()} ${process.pid} live ${here!.boot}\n`,
        `${hostname()} 2147483646 live - -\n`,
      ];
      for (const holder of foreign) {
        writeFileSync(lock, holder);
        expect([holder, isStale(lock, holder)]).toEqual([holder, false]);
        aged(lock);
        expect([holder, isStale(lock, holder)]).toEqual([holder, true]);
      }
      // this pid space: a dead pid, or ours (left by an earlier process), is stale at once
      for (const holder of [lockOf(2147483646, 'dead'), lockOf(process.pid, 'crashed')]) {
        writeFileSync(lock, holder);
        expect([holder, isStale(lock, holder)]).toEqual([holder, true]);
      }
      writeFileSync(lock, lockOf(process.ppid, 'live'));
      expect(isStale(lock, lockOf(process.ppid, 'live'))).toBe(false);
      // review M3: a live holder of this pid space is not stale at the age of one whose pid
      // cannot be checked (before: taken over at work after SECRETS_LOCK_STALE_MS)
      aged(lock, PAST_STALE_MS);
      expect(isStale(lock, lockOf(process.ppid, 'live'))).toBe(false);
      aged(lock);
      expect(isStale(lock, lockOf(process.ppid, 'live'))).toBe(true);
      // the lock updateStored writes names this pid space
      const file = join(dir, SECRETS_FILE);
      rmSync(lock);
      let held = '';
      updateStored(file, (stored) => {
        held = readFileSync(lock, 'utf8');
        stored.A = '1';
        return true;
      });
      expect(held.trim().split(' ')).toEqual([
        hostname(),
        String(process.pid),
        expect.any(String),
        here!.boot,
        here!.ns,
      ]);
    },
  );

  it('should check the pid on the same hostname where neither side could read /proc (review L3)', () => {
    const lock = join(dir, `${SECRETS_FILE}.lock`);
    const noProc = {};
    const dead = `${hostname()} 2147483646 dead - -\n`;
    writeFileSync(lock, dead);
    expect(isStale(lock, dead, noProc)).toBe(true);
    const live = `${hostname()} ${process.ppid} live - -\n`;
    writeFileSync(lock, live);
    expect(isStale(lock, live, noProc)).toBe(false);
    aged(lock, PAST_STALE_MS);
    expect(isStale(lock, live, noProc)).toBe(false);
    // another host, or a maker that could read /proc: its age alone
    for (const holder of [`other-${hostname()} 2147483646 dead - -\n`, lockOf(2147483646, 'x')]) {
      writeFileSync(lock, holder);
      expect([holder, isStale(lock, holder, noProc)]).toEqual([holder, false]);
      aged(lock, PAST_STALE_MS);
      expect([holder, isStale(lock, holder, noProc)]).toEqual([holder, true]);
    }
  });

  it('should write on a DATA_DIR that refuses to touch the lock (utimes EPERM) (review M2)', () => {
    const file = join(dir, SECRETS_FILE);
    const lock = `${file}.lock`;
    // a mount refusing utimes (the filesystem is outside this process)
    const refuse = jest
      .spyOn(jest.requireActual<typeof import('node:fs')>('node:fs'), 'utimesSync')
      .mockImplementation((path) => {
        if (path !== lock) throw new Error(`unexpected utimes of ${String(path)}`);
        throw Object.assign(new Error(`EPERM: operation not permitted, utime '${lock}'`), {
          code: 'EPERM',
        });
      });
    try {
      // before: every write taken for one that lost its lock, then a ConfigError
      updateStored(file, (stored) => {
        stored.A = '1';
        return true;
      });
      expect(refuse).toHaveBeenCalled();
    } finally {
      refuse.mockRestore();
    }
    expect(readStored(file)).toEqual({ A: '1' });
    expect(existsSync(lock)).toBe(false);
  });

  it('should leave a live lock untouched when the stale one a breaker read is gone (review LOW-5)', () => {
    const lock = join(dir, `${SECRETS_FILE}.lock`);
    // another breaker removed the stale lock this one read, and a live process took it
    writeFileSync(lock, `${hostname()} ${process.ppid} live\n`);
    const before = statSync(lock);
    // coarse kernel clocks: a rename within the same tick would keep the ctime
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30);
    breakLock(lock, `${hostname()} 2147483646 dead\n`);
    // not even moved aside and linked back: a third taker in between had lost it
    expect(readFileSync(lock, 'utf8')).toBe(`${hostname()} ${process.ppid} live\n`);
    expect(statSync(lock).ctimeMs).toBe(before.ctimeMs);
    expect(existsSync(`${lock}.break`)).toBe(false);
  });

  it("should leave a stale lock to the breaker holding the break turn, and clear a dead breaker's turn (review LOW-5)", () => {
    const file = join(dir, SECRETS_FILE);
    const lock = `${file}.lock`;
    const stale = `${hostname()} 2147483646 dead\n`;
    writeFileSync(lock, stale);
    aged(lock);
    writeFileSync(`${lock}.break`, '');
    expect(breakLock(lock, stale)).toBe(false);
    expect(readFileSync(lock, 'utf8')).toBe(stale);
    // the breaker holding the turn died in it
    const old = new Date(Date.now() - 20_000);
    utimesSync(`${lock}.break`, old, old);
    updateStored(file, (stored) => {
      stored.A = '1';
      return true;
    });
    expect(readStored(file)).toEqual({ A: '1' });
    expect(existsSync(lock)).toBe(false);
    expect(existsSync(`${lock}.break`)).toBe(false);
  });
});

/**
 * secrets.json's lock between real processes: each child runs `updateStored` on one file,
 * adding its own name. A child told to hold stops in its first update (the lock held, its
 * write not made) until the test lets it go. Each child prints what every call of its update
 * read, and leaves a mark each time it reads the lock file.
 */
describe('updateStored between processes', () => {
  const CHILD = `
    const fs = require('node:fs');
    const { join } = require('node:path');
    const { updateStored } = require(process.env.LS_MODULE);
    const { MARKS: marks, NAME: name, FILE: file } = process.env;
    const lock = file + '.lock';
    const { readFileSync } = fs;
    let reads = 0;
    fs.readFileSync = function (path, ...rest) {
      if (path === lock) fs.writeFileSync(join(marks, name + '-lockread-' + ++reads), '');
      return readFileSync.call(this, path, ...rest);
    };
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const seen = [];
    updateStored(file, (stored) => {
      seen.push({ ...stored });
      if (seen.length === 1 && process.env.HOLD === '1') {
        fs.writeFileSync(join(marks, name + '-holding'), '');
        while (!fs.existsSync(join(marks, name + '-go'))) {
          // told to: a live holder at work, its lock kept fresh (however long the other
          // child takes to start on a loaded machine), not one stopped
          if (process.env.FRESH === '1') fs.utimesSync(lock, new Date(), new Date());
          Atomics.wait(sleeper, 0, 0, 10);
        }
      }
      stored[name] = '1';
      return true;
    });
    process.stdout.write(JSON.stringify(seen));`;
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-secrets-procs-'));
    file = join(dir, SECRETS_FILE);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * A child writer. `hold`: 'stopped' (its lock untouched) or 'working' (kept fresh);
   * `pidNamespace`: in a pid namespace of its own, as its pid 1 (unshare).
   */
  const writer = (name: string, hold?: 'stopped' | 'working', pidNamespace = false) => {
    const node = [process.execPath, '-r', '@swc-node/register', '-e', CHILD];
    const [command, ...args] = pidNamespace ? ['unshare', '--pid', '--fork', ...node] : node;
    const child = spawn(command, args, {
      env: {
        ...process.env,
        LS_MODULE: join(__dirname, 'local-secrets.ts'),
        MARKS: dir,
        NAME: name,
        FILE: file,
        HOLD: hold ? '1' : '0',
        FRESH: hold === 'working' ? '1' : '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const done = new Promise<{ code: number | null; seen: Record<string, string>[] }>((resolve) =>
      child.on('close', (code) => {
        if (code !== 0) process.stderr.write(err);
        resolve({ code, seen: code === 0 ? JSON.parse(out) : [] });
      }),
    );
    return { done, exited: () => child.exitCode !== null };
  };
  const marked = async (name: string, count = 1, orElse?: () => boolean) => {
    while (readdirSync(dir).filter((f) => f.startsWith(name)).length < count && !orElse?.())
      await new Promise((r) => setTimeout(r, 10));
  };

  it('a holder stopped past the stale age writes nothing over the file another wrote meanwhile: it does its update again under a new lock', async () => {
    const a = writer('A', 'stopped');
    await marked('A-holding');
    // A stopped in its work longer than the stale age (its lock untouched since): another
    // process takes the lock over and writes the file
    aged(`${file}.lock`);
    const b = await writer('B').done;
    expect(b).toEqual({ code: 0, seen: [{}] });
    expect(readStored(file)).toEqual({ B: '1' });
    writeFileSync(join(dir, 'A-go'), '');
    // before: A renamed its { A } over { B }, and B's write was lost
    expect(await a.done).toEqual({ code: 0, seen: [{}, { B: '1' }] });
    expect(readStored(file)).toEqual({ A: '1', B: '1' });
    expect(readdirSync(dir).filter((f) => f.startsWith(SECRETS_FILE))).toEqual([SECRETS_FILE]);
  });

  onLinux(
    'a live holder of this pid space at work past the stale age keeps its lock: the other waits (review M3)',
    async () => {
      const a = writer('A', 'stopped');
      await marked('A-holding');
      // A, alive, has held its lock longer than the stale age of a holder whose pid cannot be
      // checked, not than that of a live one
      aged(`${file}.lock`, PAST_STALE_MS);
      const b = writer('B');
      // B has looked at A's lock a few times (waiting), or (before) broke it and is done
      await marked('B-lockread-', 4, b.exited);
      writeFileSync(join(dir, 'A-go'), '');
      const [doneA, doneB] = await Promise.all([a.done, b.done]);
      // before: B took the lock over and wrote { B }, and A did its update again on it
      expect(doneA).toEqual({ code: 0, seen: [{}] });
      expect(doneB).toEqual({ code: 0, seen: [{ A: '1' }] });
      expect(readStored(file)).toEqual({ A: '1', B: '1' });
    },
  );

  const unshare = spawnSync('unshare', ['--pid', '--fork', 'true']).status === 0;
  (unshare ? it : it.skip)(
    "two processes that are both pid 1 of their own pid namespace (two containers of one hostname on one DATA_DIR) wait for each other's live lock",
    async () => {
      const a = writer('A', 'working', true);
      await marked('A-holding');
      const b = writer('B', undefined, true);
      // B has looked at A's lock a few times (waiting), or (before) broke it and is done
      await marked('B-lockread-', 4, b.exited);
      writeFileSync(join(dir, 'A-go'), '');
      const [doneA, doneB] = await Promise.all([a.done, b.done]);
      // before: B took A's pid 1 for its own and broke the live lock; B wrote first (reading
      // nothing), and A, finding its lock gone at its write, did its update again
      expect(doneA).toEqual({ code: 0, seen: [{}] });
      expect(doneB).toEqual({ code: 0, seen: [{ A: '1' }] });
      expect(readStored(file)).toEqual({ A: '1', B: '1' });
    },
  );
});
