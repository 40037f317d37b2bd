import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import type { TlogSettings } from '@app/tlog';
import { NO_DEVICE, PendingLogEntry } from './domain/attendance-log';
import { SqliteAttendanceLogRepository } from './infrastructure/persistence/sqlite/repositories/sqlite-attendance-log.repository';
import { LedgerService } from './ledger.service';
import { correctionEntry, punchEntry } from './testing/punch-entry';

const at = '2026-01-01T08:00:00.000Z';

/**
 * An entry's key (its `packetId`) is what the store's unique key and the duplicate lookup hold
 * beside the hashed data: keyed by a packetId its data does not name, the link would read
 * tampered from its append on, and its data's packet could be appended again. `LedgerService`
 * refuses such an append before anything is written (a caller's bug: an internal error).
 */
describe('LedgerService: an entry keyed by a packetId its data does not name', () => {
  let dir: string;
  let store: SqliteStore;
  let logs: SqliteAttendanceLogRepository;
  let ledger: LedgerService;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-ledger-keys-'));
    store = new SqliteStore(join(dir, 'ledger.sqlite'));
    logs = new SqliteAttendanceLogRepository(store, {
      maxOfflineAgeSeconds: 3600,
      maxPacketsPerBatch: 500,
      verifyWorkers: 0,
      verifyQueue: 64,
      appendThread: false,
    });
    // the refusal comes before the ledger reaches the transparency log, the store MACs or the
    // seal refusals: none is given
    ledger = new LedgerService(
      logs,
      undefined as never,
      undefined as never,
      { origin: 'test.local' } as TlogSettings,
      undefined as never,
      undefined as never,
    );
  });
  afterEach(async () => {
    await logs.onApplicationShutdown();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const punch = () => punchEntry({ siteId: 'S', workerId: 'w1', type: 'check_in', timestamp: at });

  it('should refuse the whole append with an internal error, writing none of its entries', async () => {
    const honest = punch();
    const other = punch();
    const miskeyed: PendingLogEntry = { ...other, packetId: honest.packetId };
    await expect(ledger.append([punch(), miskeyed])).rejects.toThrow(
      'Ledger append refused: entry 1 of 2 (site "S") is keyed by a packetId its data does not name; nothing was appended',
    );
    const noData = { ...punch(), data: null } as unknown as PendingLogEntry;
    await expect(ledger.append([noData])).rejects.toThrow(/entry 0 of 1 .* nothing was appended/);
    expect(await logs.headSeq('S')).toBe(0);
    expect(
      await logs.findByKeys([
        { packetId: honest.packetId, deviceId: 'd' },
        { packetId: other.packetId, deviceId: 'd' },
      ]),
    ).toEqual([undefined, undefined]);
  });

  it('should refuse a conditional append (a correction) keyed by a packetId its data does not name', async () => {
    const correction = correctionEntry({
      siteId: 'S',
      workerId: 'w1',
      targetSeq: 1,
      action: 'void',
      reason: 'test',
      syncTimestamp: at,
    });
    await expect(
      ledger.appendAtHead({ ...correction, packetId: `${correction.packetId}-x` }, 0),
    ).rejects.toThrow('entry 0 of 1 (site "S") is keyed by a packetId its data does not name');
    expect(await logs.headSeq('S')).toBe(0);
    expect(await logs.findByKeys([{ packetId: correction.packetId, deviceId: NO_DEVICE }])).toEqual(
      [undefined],
    );
  });
});
