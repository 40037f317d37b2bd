import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { readStored, SECRETS_FILE, writeStored } from '@app/common';
import { FraudService } from '@app/fraud';
import { StoreMac } from '@app/tlog';
import { runScript } from './support/processes';
import { dataDirApp, dropRetiredStoreMacKey } from './support/tamper';
import { http, MONGODB_URI, secretsOf } from './support/test-app';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';

/**
 * Tester F2: a backup, then a store-MAC key rotation as README "Rotating keys" says (rotate,
 * restart, keys:retag, the oldest retired key removed, restart), then a restore as "Backup and
 * restore" says (the current secrets.json kept): the restored worker devices are tagged under the
 * dropped key, read tampered, and every phone's sync answers 403 device_blocked. Before, every
 * check passed and nothing said why. Now the manifest records the store-MAC key ids, `backup
 * --check` names the one the configuration lacks (exit 1), the restored server reports it
 * (/health `devices.unheldStoreMacKids`, an ALARM at start) and keeps the phones refused until
 * the key is back, when they sync again. The real backup and keys:retag commands, each a process
 * of its own; SQLite only (a MongoDB restore has no manifest).
 */
/** /health, asked again until it names an unheld key (a generous deadline: no timing asserted). */
async function reported(baseUrl: string, key: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const health = await http(baseUrl, 'GET', '/health', { key });
    if (health.body?.info?.devices?.unheldStoreMacKids || Date.now() > deadline) return health;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

(MONGODB_URI ? describe.skip : describe)('restore after a store-MAC key was dropped (e2e)', () => {
  const app = dataDirApp('restore-mac');
  const backups = mkdtempSync(join(tmpdir(), 'mdai-restore-mac-'));
  afterAll(() => rmSync(backups, { recursive: true, force: true }));

  it('should name the dropped key in backup --check and /health, and sync the phones once it is back', async () => {
    const t = await app.start();
    const a = t.app.get(StoreMac).kid;
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    expect((await syncBatch(t.baseUrl, phone.token, [signPacket(phone)])).status).toBe(200);
    // fraud events (of another device: the phone's trust score is left as it is), tagged under
    // the same key: the restored ones read tampered alike
    for (const siteId of ['site-f1', 'site-f2']) {
      await t.app.get(FraudService).record({
        type: 'impossible_travel',
        deviceId: randomUUID(),
        workerId: randomUUID(),
        siteId,
        detail: '50 km in a minute',
      });
    }

    // 1. the backup, beside the running server
    const bk = join(backups, 'bk');
    const taken = await runScript('backup', app.dataDir, ['--to', bk]);
    expect(taken.stderr).toBe('');
    expect(taken.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(bk, 'backup-manifest.json'), 'utf8')) as {
      storeMacKids: string[];
    };
    expect(manifest.storeMacKids).toEqual([a]);
    const manifestText = readFileSync(join(bk, 'backup-manifest.json'), 'utf8');
    expect(manifestText).not.toContain(secretsOf(app.dataDir).STORE_MAC_KEY); // ids, never keys

    // 2. README "Rotating keys": rotate, restart, keys:retag, drop the oldest key, restart
    await app.restart((dir) => rotateLocalKeys(dir, ['mac'], new Date()));
    const retag = await runScript('keys-retag', app.dataDir);
    expect(retag.code).toBe(0);
    expect(retag.stdout).toContain(`the oldest retired key ${a} can be removed`);
    expect(retag.stdout).toContain('keep it with every backup taken before this retag');
    await app.restart((dir) => dropRetiredStoreMacKey(dir, a));

    // 3. the check before the restore, with the server's configuration: the key is named
    const check = await runScript('backup', app.dataDir, ['--check', bk]);
    expect(check.code).toBe(1);
    expect(check.stderr).toContain(
      `the store-MAC key "${a}" the backup's rows may be tagged under`,
    );
    expect(check.stderr).toContain('put that key back into STORE_MAC_RETIRED_KEYS');
    expect(check.stdout).toContain('FAILED, 1 problem(s)');

    // 4. the restore as README says: the backup in place of DATA_DIR, the current secrets.json
    await app.stop();
    for (const name of readdirSync(app.dataDir))
      if (name !== SECRETS_FILE) rmSync(join(app.dataDir, name), { recursive: true });
    cpSync(bk, app.dataDir, {
      recursive: true,
      filter: (from) => from !== join(bk, SECRETS_FILE),
    });
    const restored = await app.start();
    // counted in the background once the server listens: /health reports it when done
    const health = await reported(restored.baseUrl, restored.keys.admin);
    expect(health.status).toBe(200); // reported, not degraded
    expect(health.body.info.devices).toMatchObject({
      status: 'up',
      unheldStoreMacKids: [a],
      tamperedUnderUnheldKids: { devices: 1, kiosks: 0, fraudEvents: 2 },
      message: expect.stringContaining('put each of those keys back into STORE_MAC_RETIRED_KEYS'),
    });
    // honest: a missing key and a forgery read alike
    expect(health.body.info.devices.message).toContain(
      'a row under a key not held cannot be told from a forged one',
    );
    // still refused: a key missing does not unblock anything
    const refused = await syncBatch(restored.baseUrl, phone.token, [signPacket(phone)]);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('device_blocked');

    // 5. the key put back (from the backup's secrets.json), restarted: the phones sync again
    const backupKey = readStored(join(bk, SECRETS_FILE)).STORE_MAC_KEY;
    const back = await app.restart((dir) => {
      const file = join(dir, SECRETS_FILE);
      const stored = readStored(file);
      const history = JSON.parse(stored.STORE_MAC_RETIRED_KEYS) as unknown[];
      history.push({ kid: a, key: backupKey, retiredAt: new Date().toISOString() });
      stored.STORE_MAC_RETIRED_KEYS = JSON.stringify(history);
      writeStored(file, stored);
    });
    const healed = await http(back.baseUrl, 'GET', '/health', { key: back.keys.admin });
    expect(healed.body.info.devices.unheldStoreMacKids).toBeUndefined();
    const synced = await syncBatch(back.baseUrl, phone.token, [signPacket(phone)]);
    expect(synced.body.code).toBeUndefined();
    expect(synced.status).toBe(200);
    const checked = await runScript('backup', app.dataDir, ['--check', bk]);
    expect(checked.stderr).toBe('');
    expect(checked.code).toBe(0);
    expect(checked.stdout).toContain(
      'the store-MAC keys its rows may be tagged under are held by the current configuration',
    );
  });
});
