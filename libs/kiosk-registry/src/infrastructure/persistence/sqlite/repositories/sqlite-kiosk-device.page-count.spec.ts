import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Statement } from 'better-sqlite3';
import { SqliteStore } from '@app/persistence';
import {
  kioskSpecDir,
  kioskSpecSeal,
  specKiosk,
  specRegistration,
} from './sqlite-kiosk-device.fixtures';
import { SqliteKioskDeviceRepository } from './sqlite-kiosk-device.repository';

/**
 * A page of kiosks checks each row's numbering (the events past its own event against the mark):
 * counted once a page past its lowest event number when no number past it is missing, not once
 * a row; with a hole, each row's verdict is the one its own read gives.
 */
describe('SQLite kiosk listing: the numbering counted once a page', () => {
  let dir: string;
  let store: SqliteStore;
  let repo: SqliteKioskDeviceRepository;
  const ids = ['K-PAGE-1', 'K-PAGE-2', 'K-PAGE-3', 'K-PAGE-4', 'K-PAGE-5'];

  beforeAll(async () => {
    dir = kioskSpecDir('mdai-kiosk-page-');
    store = new SqliteStore(join(dir, 'kiosk.sqlite'));
    repo = new SqliteKioskDeviceRepository(store, kioskSpecSeal());
    // registered in reverse id order: the page (by id) lists the highest number first
    for (const deviceId of [...ids].reverse()) {
      await repo.register(specKiosk(deviceId), specRegistration(deviceId));
    }
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The page's verdicts, and how many times the numbering was counted for it. */
  async function listed(): Promise<{ verdicts: string[]; counts: number }> {
    await repo.findByDeviceId(ids[0]); // the count's statement prepared
    const statement = (repo as unknown as { numberedRow: Statement }).numberedRow;
    const get = jest.spyOn(statement, 'get');
    try {
      const page = await repo.list({ limit: 10 });
      return {
        verdicts: page.map((k) => `${k.deviceId} ${k.integrity}`),
        counts: get.mock.calls.length,
      };
    } finally {
      get.mockRestore();
    }
  }

  it('should count once for a whole page', async () => {
    expect(await listed()).toEqual({
      verdicts: ids.map((id) => `${id} verified`),
      counts: 1,
    });
  });

  it('should give each row the verdict its own read gives past a hole', async () => {
    // K-PAGE-3's event (number 3) deleted: it and the kiosks numbered before it read tampered
    store.db.prepare("DELETE FROM kiosk_events WHERE device_id = 'K-PAGE-3'").run();
    const own: string[] = [];
    for (const id of ids) own.push(`${id} ${(await repo.findByDeviceId(id))!.integrity}`);
    expect(own).toEqual([
      'K-PAGE-1 verified',
      'K-PAGE-2 verified',
      'K-PAGE-3 tampered',
      'K-PAGE-4 tampered',
      'K-PAGE-5 tampered',
    ]);
    expect((await listed()).verdicts).toEqual(own);
  });
});
