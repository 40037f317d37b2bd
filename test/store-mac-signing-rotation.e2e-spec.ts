import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { AttendanceLogRepository } from '@app/offline-sync/infrastructure/persistence/attendance-log.repository';
import { MongoTimesheetRepository } from '@app/timesheets/infrastructure/persistence/mongo/repositories/mongo-timesheet.repository';
import { SqliteTimesheetRepository } from '@app/timesheets/infrastructure/persistence/sqlite/repositories/sqlite-timesheet.repository';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { StoreMac, storeTagFault } from '@app/tlog';
import { dataDirApp } from './support/tamper';
import { secretsOf } from './support/test-app';
import { ago, punch, recentTimesheetDays, siteWithShift, sync } from './support/timesheet-client';

const UNIT = 30_000;

/**
 * Review M-2: the store-MAC keys were derived from TLOG_SIGNING_KEY, so every `keys:rotate log`
 * changed every tag key: the timesheet read model was cleared and re-read from the ledger, and
 * the ledger links a replica had tagged (not yet sealed) were refused by the replicas already on
 * the new key (`retired_key`). The tags are now made under STORE_MAC_KEY (generated into
 * secrets.json outside production), which a signing-key rotation does not touch.
 */
describe('a log signing-key rotation and the store MACs (e2e)', () => {
  const server = dataDirApp('storemac', { TRUST_AUTO_BLOCK_FLOOR: '0' });

  it('should keep the timesheet read model and the ledger links tagged before it (no rebuild, no refusal)', async () => {
    let t = await server.start();
    const { siteId, phone: asha } = await siteWithShift(t, 5 * UNIT, 4 * UNIT);
    const days = await recentTimesheetDays(t, siteId);
    expect(days.flatMap((d) => d.seqs as number[])).toEqual([1, 2]);
    const [sealKid] = (await t.app.get(TimesheetRepository).sealKids())!;
    expect(sealKid).toBe(t.app.get(StoreMac).kid);
    const links = await t.app.get(AttendanceLogRepository).readTaggedTexts(siteId, 1, 2);
    expect(links.map((l) => l.kid)).toEqual([sealKid, sealKid]);
    const before = secretsOf(server.dataDir);
    // the store-MAC secret is generated with the other local secrets, base64 of 32 bytes
    expect(Buffer.from(before.STORE_MAC_KEY, 'base64')).toHaveLength(32);

    let resets: jest.SpyInstance[] = [];
    t = await server.restart((dataDir) => {
      rotateLocalKeys(dataDir, ['log'], new Date());
      const after = secretsOf(dataDir);
      expect(after.TLOG_SIGNING_KEY).not.toBe(before.TLOG_SIGNING_KEY);
      expect(after.STORE_MAC_KEY).toBe(before.STORE_MAC_KEY);
      // review L-7: a reset re-reads the same days from the ledger, so equal days alone would
      // not tell it happened: the reset itself is watched (on either store)
      resets = [SqliteTimesheetRepository, MongoTimesheetRepository].map((repo) =>
        jest.spyOn(repo.prototype, 'resetAll'),
      );
    });
    // a read queues behind the start's check of the read model's key
    const again = await recentTimesheetDays(t, siteId);
    expect(again).toEqual(days);
    expect(resets.map((spy) => spy.mock.calls.length)).toEqual([0, 0]);
    resets.forEach((spy) => spy.mockRestore());
    // not cleared: a reset stores the key it re-tags under (before M-2, the new log key's id)
    expect(await t.app.get(TimesheetRepository).sealKids()).toEqual([sealKid]);
    // the links as a seal of a link not appended in hand checks them: every one vouched for
    const mac = t.app.get(StoreMac);
    expect(mac.kid).toBe(sealKid);
    const stored = await t.app.get(AttendanceLogRepository).readTaggedTexts(siteId, 1, 2);
    expect(stored.map((l) => storeTagFault(mac, 'ledger-link', l, l.recordHash))).toEqual([
      undefined,
      undefined,
    ]);
    // and a tag changed in the store is still refused
    const tag = stored[0].mac!;
    const forged = { ...stored[0], mac: `${tag[0] === 'A' ? 'B' : 'A'}${tag.slice(1)}` };
    expect(storeTagFault(mac, 'ledger-link', forged, forged.recordHash)).toBe('bad_tag');
    await sync(t.baseUrl, asha, [punch(asha, 'check_in', ago(2 * UNIT))]);
  });
});
