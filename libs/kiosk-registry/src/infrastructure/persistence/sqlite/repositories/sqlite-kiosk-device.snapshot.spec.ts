import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { KioskStoredMark } from '../../kiosk-seal';
import {
  kioskSpecDir,
  kioskSpecSeal,
  specKiosk as device,
  specRegistration as event,
} from './sqlite-kiosk-device.fixtures';
import { SqliteKioskDeviceRepository } from './sqlite-kiosk-device.repository';

/**
 * Two processes on one SQLite file (two replicas): a kiosk read checks the row, the kiosk's
 * newest event, the mark and the numbering in one read transaction, so another connection's
 * kiosk event committed between those statements is not half seen (the count one past the
 * mark: `tampered` for that read). The other connection's write is made to land right after
 * the read took the mark (a hook on the repository's mark read), every run.
 */
describe('SQLite kiosk reads while another connection writes a kiosk event', () => {
  let dir: string;
  let stores: SqliteStore[];
  let reader: SqliteKioskDeviceRepository;
  let writer: SqliteKioskDeviceRepository;

  beforeAll(() => {
    dir = kioskSpecDir('mdai-kiosk-snapshot-');
    const path = join(dir, 'kiosk.sqlite');
    const seal = kioskSpecSeal();
    stores = [new SqliteStore(path), new SqliteStore(path)];
    [reader, writer] = stores.map((s) => new SqliteKioskDeviceRepository(s, seal));
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `read` with the writer's registration of `deviceId` committed right after its mark read. */
  async function writtenAfterMark<T>(deviceId: string, read: () => Promise<T>): Promise<T> {
    const hooked = reader as unknown as { mark(): KioskStoredMark | undefined };
    const original = hooked.mark.bind(hooked);
    let written: Promise<unknown> | undefined;
    const mark = jest.spyOn(hooked, 'mark').mockImplementationOnce(() => {
      const value = original();
      // the writer's write turns are free: its transaction commits within this call
      written = writer.register(device(deviceId), event(deviceId));
      return value;
    });
    try {
      return await read();
    } finally {
      mark.mockRestore();
      expect(written).toBeDefined();
      expect(await written).toMatchObject({ outcome: 'created' });
    }
  }

  it('should read a kiosk as verified when another kiosk is registered between its mark and its count', async () => {
    await reader.register(device('K-SNAP-1'), event('K-SNAP-1'));
    const found = await writtenAfterMark('K-SNAP-2', () => reader.findByDeviceId('K-SNAP-1'));
    expect(found).toMatchObject({ integrity: 'verified', status: 'active' });
    expect(await reader.findByDeviceId('K-SNAP-2')).toMatchObject({ integrity: 'verified' });
  });

  it('should list kiosks as verified when another kiosk is registered between a mark and a count', async () => {
    const page = await writtenAfterMark('K-SNAP-3', () => reader.list({ limit: 10 }));
    expect(page.map((k) => [k.deviceId, k.integrity])).toEqual([
      ['K-SNAP-1', 'verified'],
      ['K-SNAP-2', 'verified'],
    ]);
  });
});
