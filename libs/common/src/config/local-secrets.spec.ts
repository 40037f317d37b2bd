import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStored, SECRETS_FILE, updateStored } from './local-secrets';

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
});
