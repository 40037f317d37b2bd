import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { restartApp, withStoreFile } from './support/tamper';
import { http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';
import { enrollPhone } from './support/worker-client';
import { fill, verifyLedger } from './support/ledger-client';

/** The store's state after a crash between a seal's witness line and its checkpoint row. */
function dropCheckpointRow(dataDir: string, origin: string, size: number): void {
  const gone = withStoreFile(dataDir, (db) =>
    db
      .prepare(
        'DELETE FROM tlog_checkpoints WHERE size = ? AND log_id = (SELECT id FROM tlog_logs WHERE origin = ?)',
      )
      .run(size, origin),
  );
  expect(gone.changes).toBe(1);
}

/**
 * A seal appends its checkpoint to the witness file, then saves it in the store. A SIGKILL in
 * between left a witnessed checkpoint the store never got, and every verify after the restart
 * failed with checkpoint_missing (seen in offline-sync-crash under load). Restarting on the same
 * files must put it back when it proves, and only then.
 */
describe('witnessed checkpoints the store lacks after a crash (e2e)', () => {
  let dataDir: string;
  let t: TestApp | undefined;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'mdai-witness-'))));
  afterEach(async () => {
    await t?.close();
    t = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  const restart = () => restartApp(t!);

  itOnSqliteFile(
    'should restore the checkpoint at start-up, so verify holds without another seal',
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir });
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 1, 20);
      await fill(t, phone, 1, 30);
      const origin = `mdai.local/ledger/${phone.siteId}`;
      const witnessFile = t.config.tlog.witnessFile;
      dropCheckpointRow(dataDir, origin, 50);
      // what the crash leaves: the running process would be gone; this one is stopped
      t = await restart();
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({
        ok: true,
        length: 50,
        checkpointsChecked: 2,
        witnessedCheckpoints: 2,
      });
      // and the log goes on from it
      await fill(t, phone, 1, 5);
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({ ok: true, length: 55 });
      expect(readFileSync(witnessFile, 'utf8').trim().split('\n')).toHaveLength(3);
    },
  );

  itOnSqliteFile(
    'should leave a witnessed checkpoint that does not prove, and verify still reports it',
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir });
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 1, 20);
      const origin = `mdai.local/ledger/${phone.siteId}`;
      const witnessFile = t.config.tlog.witnessFile;
      const witnessed = JSON.parse(readFileSync(witnessFile, 'utf8').trim());
      dropCheckpointRow(dataDir, origin, 20);
      // the file holds, instead of the honest line, one whose root is not the one its note
      // signs, and one of a tree larger than the log
      writeFileSync(
        witnessFile,
        `${JSON.stringify({ ...witnessed, rootHash: 'ab'.repeat(32) })}\n` +
          `${JSON.stringify({ ...witnessed, size: 1000 })}\n`,
      );
      t = await restart();
      // neither line adopted; the start's sweep seals the unsealed tail under a checkpoint of its
      // own, which the witness file's forged lines contradict: verify still reports it
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({ ok: false });
      expect((await verifyLedger(t, phone.siteId)).reason).not.toBe(undefined);
    },
  );

  itOnSqliteFile(
    'should leave a witnessed checkpoint whose signedAt is not the time signed into its note',
    async () => {
      t = await startTestApp({ DATA_DIR: dataDir });
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      await fill(t, phone, 1, 20);
      const origin = `mdai.local/ledger/${phone.siteId}`;
      const witnessFile = t.config.tlog.witnessFile;
      const witnessed = JSON.parse(readFileSync(witnessFile, 'utf8').trim());
      dropCheckpointRow(dataDir, origin, 20);
      // the honest note and root, the line's time moved an hour back
      const moved = new Date(Date.parse(witnessed.signedAt) - 3600_000).toISOString();
      writeFileSync(witnessFile, `${JSON.stringify({ ...witnessed, signedAt: moved })}\n`);
      t = await restart();
      // the line is not adopted: the start's sweep seals the unsealed tail under a checkpoint
      // signed now (sealtail), never one carrying the moved time
      expect(await verifyLedger(t, phone.siteId)).toMatchObject({
        ok: true,
        checkpointsChecked: 1,
      });
      const checkpoint = await http(t.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/checkpoint`, {
        key: t.keys.auditor,
      });
      expect(checkpoint.status).toBe(200);
      expect(JSON.stringify(checkpoint.body)).not.toContain(moved);
    },
  );
});
