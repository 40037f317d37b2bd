import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { breakLock, readStored, SECRETS_FILE, updateStored } from './local-secrets';

/** Review L-8: secrets.json's lock, as a process that died holding it leaves it. */
describe('updateStored', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-secrets-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should take over a lock whose holder is gone, or held past the stale age', () => {
    const file = join(dir, SECRETS_FILE);
    const lock = `${file}.lock`;
    // a pid no process has on this host
    writeFileSync(lock, `${hostname()} 2147483646 dead\n`);
    updateStored(file, (stored) => {
      stored.A = '1';
      return true;
    });
    expect(readStored(file)).toEqual({ A: '1' });
    expect(existsSync(lock)).toBe(false);
    // a live holder (the test runner's parent) that has had it for two minutes
    writeFileSync(lock, `${hostname()} ${process.ppid} stopped\n`);
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    updateStored(file, (stored) => {
      stored.B = '2';
      return true;
    });
    expect(readStored(file)).toEqual({ A: '1', B: '2' });
    expect(existsSync(lock)).toBe(false);
    // the file is written whole (mode 0600), nothing left beside it
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ A: '1', B: '2' });
  });

  it("should take over a fresh lock left under this process's pid by an earlier process (review LOW-4)", () => {
    const file = join(dir, SECRETS_FILE);
    const lock = `${file}.lock`;
    // pid 1 of a container restarted under the same hostname: the dead holder had our pid
    writeFileSync(lock, `${hostname()} ${process.pid} crashed\n`);
    updateStored(file, (stored) => {
      stored.A = '1';
      return true;
    });
    expect(readStored(file)).toEqual({ A: '1' });
    expect(existsSync(lock)).toBe(false);
  });

  const bootFile = '/proc/sys/kernel/random/boot_id';
  (existsSync(bootFile) ? it : it.skip)(
    'should take over a fresh lock of a live pid written under another boot of the host (review LOW-4)',
    () => {
      const file = join(dir, SECRETS_FILE);
      const lock = `${file}.lock`;
      const boot = readFileSync(bootFile, 'utf8').trim();
      const other = boot.replace(/^./, (c) => (c === '0' ? '1' : '0'));
      // a live pid (the test runner's parent) that another boot's process had
      writeFileSync(lock, `${hostname()} ${process.ppid} before ${other}\n`);
      let held = '';
      updateStored(file, (stored) => {
        held = readFileSync(lock, 'utf8');
        stored.A = '1';
        return true;
      });
      expect(readStored(file)).toEqual({ A: '1' });
      expect(existsSync(lock)).toBe(false);
      // the lock it wrote names this boot
      expect(held.trim().split(' ')).toEqual([
        hostname(),
        String(process.pid),
        expect.any(String),
        boot,
      ]);
    },
  );

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
