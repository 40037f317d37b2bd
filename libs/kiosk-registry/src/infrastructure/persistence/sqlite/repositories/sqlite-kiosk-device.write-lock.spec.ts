import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '@app/persistence';
import { KioskDevice, KioskEvent } from '../../../../domain/kiosk-device';
import { SqliteKioskDeviceRepository } from './sqlite-kiosk-device.repository';

/**
 * Another connection holds the file's write lock for a moment (the checkpoint thread's TRUNCATE
 * checkpoint, or its write that starts the WAL over; another process on the file): a kiosk's
 * registration or key rotation waits for it (busy_timeout), as every write does, instead of
 * failing at once with SQLITE_BUSY (503 storage_unavailable). A transaction that reads before it
 * writes gets no wait from SQLite when it is deferred: it already holds a read snapshot, and
 * SQLite does not wait to upgrade one to a write.
 */
describe('SQLite kiosk registry under another connection holding the write lock', () => {
  let dir: string;
  let path: string;
  let store: SqliteStore;
  let repo: SqliteKioskDeviceRepository;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-kiosk-lock-'));
    path = join(dir, 'kiosk.sqlite');
    store = new SqliteStore(path);
    repo = new SqliteKioskDeviceRepository(store);
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs `write` (its transaction runs in this tick: the write turns are free) while another
   * process holds the file's write lock, which it gives back a second after taking it (a child
   * process: the busy handler of this one sleeps the thread, so no timer of this one could end
   * the hold). A probe checks the lock is held right before the write; when this process saw the
   * child's word too late (a loaded machine), the child is let go and another tried.
   */
  async function whileWriteLockHeld<T>(write: () => Promise<T>): Promise<T> {
    const script = `
      const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
      const db = new Database(${JSON.stringify(path)});
      db.exec('BEGIN IMMEDIATE');
      process.stdout.write('held\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
      db.exec('COMMIT');
      db.close();`;
    const probe = new Database(path);
    probe.pragma('busy_timeout = 0');
    try {
      for (let attempt = 0; attempt < 10; attempt++) {
        const child = spawn(process.execPath, ['-e', script], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const exited = once(child, 'exit');
        await once(child.stdout, 'data');
        try {
          probe.exec('BEGIN IMMEDIATE');
          probe.exec('ROLLBACK');
        } catch (error) {
          expect(error).toMatchObject({ code: 'SQLITE_BUSY' });
          // held now: the write starts in this very tick
          const written = write();
          await exited;
          return await written;
        }
        await exited;
      }
      throw new Error('the write lock was never seen held');
    } finally {
      probe.close();
    }
  }

  const at = new Date('2026-01-01T00:00:00Z');
  const device = (deviceId: string, keyFingerprint: string): KioskDevice => ({
    id: `id-${deviceId}`,
    deviceId,
    publicKeyPem: `pem-${keyFingerprint}`,
    keyFingerprint,
    status: 'active',
    createdAt: at,
    updatedAt: at,
  });
  const event = (deviceId: string, action: KioskEvent['action']): KioskEvent => ({
    id: `ev-${deviceId}-${action}`,
    deviceId,
    action,
    actor: 'admin:test',
    at,
  });

  it('should register a kiosk once the lock is given back, not fail with SQLITE_BUSY', async () => {
    const outcome = await whileWriteLockHeld(() =>
      repo.register(device('K-LOCK-1', 'f1'), event('K-LOCK-1', 'registered')),
    );
    expect(outcome).toMatchObject({ outcome: 'created' });
    expect(await repo.findByDeviceId('K-LOCK-1')).toMatchObject({ keyFingerprint: 'f1' });
  });

  it('should rotate a kiosk key once the lock is given back, not fail with SQLITE_BUSY', async () => {
    await repo.register(device('K-LOCK-2', 'f2'), event('K-LOCK-2', 'registered'));
    const rotated = await whileWriteLockHeld(() =>
      repo.rotateKey(
        'K-LOCK-2',
        { publicKeyPem: 'pem-f3', keyFingerprint: 'f3' },
        event('K-LOCK-2', 'key_rotated'),
      ),
    );
    expect(rotated).toMatchObject({ deviceId: 'K-LOCK-2', keyFingerprint: 'f3' });
  });
});
