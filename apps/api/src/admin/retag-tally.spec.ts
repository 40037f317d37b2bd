import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerDevice, WorkerDeviceRetagOutcome } from '@app/device-trust';
import { WorkerDeviceRepository } from '@app/device-trust/infrastructure/persistence/worker-device.repository';
import { WorkerDeviceSeal } from '@app/device-trust/infrastructure/persistence/worker-device-seal';
import { workerDeviceAdapters } from '@app/device-trust/infrastructure/persistence/worker-persistence';
import { fraudConfig } from '@app/fraud';
import { SqliteStore } from '@app/persistence';
import { compileAdapter, CompiledAdapter } from '@app/persistence/testing/compile-adapter';
import { parseStoreMacKey, StoreMac, StoreMacKey, tlogConfig } from '@app/tlog';
import { DEVICE_RETAG_TEXTS, deviceRetagMark, FRAUD_RETAG_TEXTS } from './keys-retag';
import {
  countRetag,
  newRetagTally,
  reportRetag,
  RetagKind,
  retagKeyNotes,
  walkRetag,
} from './retag-tally';

/**
 * keys:retag's one tally (retag-tally.ts) of every kind it re-tags: the walk reads every row in
 * pages (here smaller ones than the command's thousand, over a real SQLite device store) and its
 * counts stay whole past the ids it lists (the changed worker devices were counted by the ids
 * listed, so at most 1,000).
 */
describe('keys:retag tally', () => {
  const newKey = (): StoreMacKey =>
    parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64'));
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  let dir: string;
  let store: SqliteStore;
  const opened: CompiledAdapter<WorkerDeviceRepository>[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-retag-tally-'));
    store = new SqliteStore(join(dir, 'store.sqlite'));
  });
  afterEach(async () => {
    for (const a of opened.splice(0)) await a.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The device store with its tags under `current` (`retired` held). */
  async function devicesUnder(current: StoreMacKey, retired: StoreMacKey[] = []) {
    const compiled = await compileAdapter(store, workerDeviceAdapters, {
      providers: [
        {
          provide: tlogConfig.KEY,
          useValue: { signingKey, storeMacKey: current, storeMacRetiredKeys: retired },
        },
        { provide: fraudConfig.KEY, useValue: { legacyTagging: true } },
        StoreMac,
        WorkerDeviceSeal,
      ],
    });
    opened.push(compiled);
    return compiled.adapter;
  }
  const devicesKind = (repo: WorkerDeviceRepository): RetagKind => ({
    texts: DEVICE_RETAG_TEXTS,
    page: async (after, limit, except) =>
      (await repo.retagPage(after, limit, except)).map(deviceRetagMark),
  });
  const device = (n: number): WorkerDevice => ({
    id: `id-${n}`,
    deviceId: `device-${String(n).padStart(2, '0')}`,
    user: { kind: 'worker', id: 'worker-1' },
    siteIds: ['site-1'],
    fingerprint: { os: 'Android 14', model: 'Redmi', simHash: 'abcdef0123456789' },
    sealedSecret: 'sealed1.v1.x.y.z',
    trustScore: 50,
    isBlocked: false,
    createdAt: new Date('2026-01-01T00:00:00.000Z'),
  });
  const lines = () => {
    const out: string[] = [];
    return { out, push: (line: string) => void out.push(line) };
  };

  it('should walk every device in pages and count each exactly, the tampered past the listed ones too', async () => {
    const [a, b] = [newKey(), newKey()];
    const underA = await devicesUnder(a);
    for (let n = 1; n <= 5; n++) {
      const d = device(n);
      await underA.register(d, {
        id: `registered-${n}`,
        deviceId: d.deviceId,
        action: 'registered',
        actor: 'admin:000000000000',
        at: new Date('2026-01-01T00:00:00.000Z'),
      });
    }
    // three block states changed in the database: tampered, never re-tagged
    store.db
      .prepare(`UPDATE worker_devices SET is_blocked = 1 WHERE device_id IN (?, ?, ?)`)
      .run('device-01', 'device-03', 'device-05');
    const kind = devicesKind(await devicesUnder(b, [a]));
    // pages of 2: three pages, the last short; 2 ids listed of each list
    const tally = await walkRetag(kind, [], { pageSize: 2, listed: 2 });
    expect(tally).toMatchObject({ read: 5, retagged: 5, tamperedCount: 3 });
    expect(tally.retaggedFrom).toEqual(new Map([[a.kid, 5]]));
    expect(tally.tampered).toEqual(['device-01', 'device-03']);
    const report = lines();
    reportRetag(kind.texts, tally, b.kid, [], report.push);
    expect(report.out).toEqual([
      `worker devices (block state and events): 5 read, 5 re-tagged under ${b.kid} (5 from ${a.kid}), 0 changed by a server on every try, 3 with tampered rows`,
      DEVICE_RETAG_TEXTS.tampered(3),
      '  "device-01"',
      '  "device-03"',
      '  … and 1 more',
    ]);
    // a second walk in pages that end exactly at the last device: all read, all current
    const again = await walkRetag(kind, [], { pageSize: 5 });
    expect(again).toMatchObject({ read: 5, retagged: 0, current: 5, tamperedCount: 3 });
  });

  it('should count the worker devices that kept changing whole, past the ids listed, and keep the key they are under', () => {
    const a = 'aaaaaaaaaaaaaaaa';
    const tally = newRetagTally();
    for (let n = 1; n <= 3; n++) {
      const o: WorkerDeviceRetagOutcome = {
        deviceId: `device-${n}`,
        result: 'changed',
        from: [a],
        tampered: 0,
        suspect: [],
      };
      countRetag(tally, deviceRetagMark(o), 2);
    }
    expect(tally).toMatchObject({ read: 3, changedCount: 3, changed: ['device-1', 'device-2'] });
    const report = lines();
    reportRetag(DEVICE_RETAG_TEXTS, tally, 'current-kid', [], report.push);
    expect(report.out).toEqual([
      'worker devices (block state and events): 3 read, 0 re-tagged under current-kid, 3 changed by a server on every try, 0 with tampered rows',
      'worker devices changed while this command ran (left as they are; run it again): "device-1", "device-2" … and 1 more',
    ]);
    expect(retagKeyNotes(DEVICE_RETAG_TEXTS, tally, a)).toEqual({
      notes: ['3 worker devices changed while this ran: run keys:retag again'],
      blocks: ['worker devices'],
    });
  });

  it("should report each kind in its own words: the fraud events' current and deleted, suspect rows per key", () => {
    const [a, b] = ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb'];
    const tally = newRetagTally();
    countRetag(tally, { id: 'e1', result: 'retagged', from: [a], tampered: false, suspect: [] });
    countRetag(tally, { id: 'e2', result: 'current', from: [], tampered: false, suspect: [] });
    countRetag(tally, { id: 'e3', result: 'deleted', from: [], tampered: false, suspect: [] });
    countRetag(tally, {
      id: 'e4',
      result: 'left',
      from: [b],
      tampered: false,
      suspect: [{ listed: '"e4"', kids: [b] }],
    });
    const report = lines();
    reportRetag(FRAUD_RETAG_TEXTS, tally, 'current-kid', [b], report.push);
    expect(report.out).toEqual([
      `fraud events: 4 read, 1 re-tagged under current-kid (1 from ${a}), 1 already under it, 0 changed by a server on every try, 0 tampered, 1 suspect, 1 deleted meanwhile`,
      FRAUD_RETAG_TEXTS.suspect(1, `1 under ${b}`),
      '  "e4"',
    ]);
    expect(retagKeyNotes(FRAUD_RETAG_TEXTS, tally, b)).toEqual({
      notes: [
        '1 suspect fraud events left under it (--except): they read tampered once it is removed',
      ],
      blocks: [],
    });
  });
});
