import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { StoreMac } from '@app/tlog';
import { EnrollmentCode, Worker } from '../../../../domain/workforce';
import { WorkerSeal } from '../../worker-seal';
import { SqliteWorkforceRepository } from './sqlite-workforce.repository';

/**
 * Two processes on one SQLite file (two replicas): a worker read checks the row and the
 * worker's newest event (WorkerSeal binds the tag to it) in one read transaction, so another
 * connection's deactivation committed between those statements is not half seen (the row from
 * before it bound to its new event: `tampered` for that read, an honest worker refused). The
 * other connection's write is made to land right after the row was read (a hook on the
 * repository's newest-event read), every run.
 */
describe('SQLite worker reads while another connection changes a worker', () => {
  let dir: string;
  let stores: SqliteStore[];
  let reader: SqliteWorkforceRepository;
  let writer: SqliteWorkforceRepository;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-worker-snapshot-'));
    const path = join(dir, 'workforce.sqlite');
    const seal = new WorkerSeal(
      new StoreMac({ signingKey: generateKeyPairSync('ed25519').privateKey }),
    );
    stores = [new SqliteStore(path), new SqliteStore(path)];
    [reader, writer] = stores.map((s) => new SqliteWorkforceRepository(s, undefined, seal));
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const at = new Date('2026-01-01T00:00:00Z');
  let phones = 0;
  async function created(id: string): Promise<void> {
    phones += 1;
    const worker: Worker = {
      id,
      name: 'Sita',
      phone: `+91983${String(phones).padStart(7, '0')}`,
      siteIds: ['s1'],
      trustScore: 50,
      sponsor: { kind: 'admin', actor: 'admin:test' },
      status: 'active',
      createdAt: at,
    };
    const code: EnrollmentCode = {
      codeHash: `code-${id}`,
      personKind: 'worker',
      personId: id,
      expiresAt: new Date('2026-02-01T00:00:00Z'),
    };
    expect(await writer.createWorker(worker, code)).toBeUndefined();
  }

  /** `read` with the writer's deactivation of `workerId` committed right before its first event read. */
  async function deactivatedMidRead<T>(workerId: string, read: () => Promise<T>): Promise<T> {
    const hooked = reader as unknown as { newestEventId(id: string): string | undefined };
    const original = hooked.newestEventId.bind(hooked);
    let written: Promise<unknown> | undefined;
    const newest = jest.spyOn(hooked, 'newestEventId').mockImplementationOnce((id) => {
      // the writer's write turns are free: its transaction commits within this call
      written = writer.setWorkerStatus(workerId, 'inactive', {
        id: `ev-${workerId}`,
        actor: 'admin:test',
        at,
        reason: 'left',
      });
      return original(id);
    });
    try {
      return await read();
    } finally {
      newest.mockRestore();
      expect(written).toBeDefined();
      expect(await written).toMatchObject({ id: workerId, status: 'inactive' });
    }
  }

  it('should read a worker as verified when it is deactivated between its row and its newest event', async () => {
    await created('w-snap-1');
    const found = await deactivatedMidRead('w-snap-1', () => reader.findWorkerById('w-snap-1'));
    expect(found).toMatchObject({ status: 'active', integrity: 'verified' });
    expect(await reader.findWorkerById('w-snap-1')).toMatchObject({
      status: 'inactive',
      integrity: 'verified',
    });
  });

  it('should read workers by ids, and list them, as verified when one is deactivated mid-read', async () => {
    await created('w-snap-2');
    await created('w-snap-3');
    const byIds = await deactivatedMidRead('w-snap-2', () =>
      reader.findWorkersByIds(['w-snap-2', 'w-snap-3']),
    );
    expect(byIds.map((w) => w.integrity)).toEqual(['verified', 'verified']);
    const page = await deactivatedMidRead('w-snap-3', () =>
      reader.listWorkers({ limit: 10, afterId: 'w-snap-1' }),
    );
    expect(page.map((w) => [w.id, w.integrity])).toEqual([
      ['w-snap-2', 'verified'],
      ['w-snap-3', 'verified'],
    ]);
  });
});
