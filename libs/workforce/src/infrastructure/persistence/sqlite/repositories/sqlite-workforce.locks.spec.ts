import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@app/common';
import { SqliteStore } from '@app/persistence';
import { EnrollmentCode, Worker } from '../../../../domain/workforce';
import { SqliteWorkforceRepository } from './sqlite-workforce.repository';

/**
 * Another process on the file (a second API replica's sync) takes SQLite's write lock, writes
 * and commits after `holdMs`. Resolves once the lock is held.
 */
function holdWriteLock(path: string, holdMs: number): Promise<ChildProcess> {
  const script = `
    const db = new (require('better-sqlite3'))(process.argv[1]);
    db.pragma('busy_timeout = 5000');
    db.exec('BEGIN IMMEDIATE');
    db.prepare('INSERT INTO worker_phone_claims (claim, worker_id) VALUES (?, ?)')
      .run('site:elsewhere|+919999999999', 'other-process');
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); }, Number(process.argv[2]));`;
  const child = spawn(process.execPath, ['-e', script, path, String(holdMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code})`)));
    child.stdout.once('data', () => resolve(child));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', resolve));
}

const t0 = new Date('2026-01-01T00:00:00.000Z');

function worker(phone: string): Worker {
  return {
    id: newId(),
    name: 'Sita',
    phone,
    siteIds: [newId()],
    trustScore: 50,
    sponsor: { kind: 'admin', actor: 'admin:000000000000' },
    status: 'active',
    createdAt: t0,
  };
}

function code(personId: string): EnrollmentCode {
  return { codeHash: newId(), personKind: 'worker', personId, expiresAt: new Date('2026-02-01') };
}

describe('SqliteWorkforceRepository with another process writing the file', () => {
  let dir: string;
  let store: SqliteStore;
  let repo: SqliteWorkforceRepository;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-workforce-locks-'));
    store = new SqliteStore(join(dir, 'workforce.sqlite'));
    repo = new SqliteWorkforceRepository(store);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should wait for the lock to create a worker, not fail with SQLITE_BUSY', async () => {
    const holder = await holdWriteLock(store.path, 300);
    const w = worker('+91 98100 00001');
    // reads the claims, then writes: waits for the other writer instead of failing
    expect(await repo.createWorker(w, code(w.id))).toBeUndefined();
    expect(await exited(holder)).toBe(0);
    expect(await repo.findWorkerById(w.id)).toEqual(w);
  });

  it("should wait for the lock to change a worker's phone and to replace its code", async () => {
    const w = worker('+91 98100 00002');
    await repo.createWorker(w, code(w.id));
    let holder = await holdWriteLock(store.path, 300);
    expect(
      await repo.updateWorker(
        w.id,
        { phone: '+91 98100 00003' },
        { id: newId(), actor: 'admin:test', at: t0 },
      ),
    ).toMatchObject({
      phone: '+91 98100 00003',
    });
    expect(await exited(holder)).toBe(0);

    store.db.exec("DELETE FROM worker_phone_claims WHERE worker_id = 'other-process'");
    holder = await holdWriteLock(store.path, 300);
    const fresh = code(w.id);
    expect(await repo.replaceEnrollment(fresh)).toBe(true);
    expect(await exited(holder)).toBe(0);
    expect(await repo.findEnrollment(fresh.codeHash)).toEqual(fresh);
  });
});
