import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@app/common';
import { SqliteStore } from '@app/persistence';
import { SqliteWorkforceRepository } from './sqlite-workforce.repository';

describe('SqliteWorkforceRepository reads on the sync path', () => {
  let dir: string;
  let store: SqliteStore;
  let repo: SqliteWorkforceRepository;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-workforce-statements-'));
    store = new SqliteStore(join(dir, 'mdai.sqlite'));
    repo = new SqliteWorkforceRepository(store);
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("should read a worker's events (once per sync batch) with a statement prepared once", async () => {
    const workerId = newId();
    expect(await repo.listWorkerEvents(workerId)).toEqual([]);
    const prepare = jest.spyOn(store.db, 'prepare');
    try {
      expect(await repo.listWorkerEvents(workerId)).toEqual([]);
      expect(await repo.listWorkerEvents(newId())).toEqual([]);
      expect(prepare).not.toHaveBeenCalled();
    } finally {
      prepare.mockRestore();
    }
  });
});
