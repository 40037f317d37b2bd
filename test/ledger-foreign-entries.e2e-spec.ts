import { AttendanceLogRepository } from '@app/offline-sync/infrastructure/persistence/attendance-log.repository';
import { forgeLedgerLinks, sealConfirmation, sealForeign, withStoreFile } from './support/tamper';
import { http, itOnSqliteFile, pollUntil, startTestApp, TestApp } from './support/test-app';
import { verifyLedger } from './support/ledger-client';
import { allTimesheetDays, createSite, phoneAt, punch, sync } from './support/timesheet-client';
import { syncBatch } from './support/worker-client';

/** Each command is a process booting the app (seconds on a loaded machine): not a speed check. */
const JOB_TIMEOUT = 180_000;

/**
 * Findings H1: someone who can write the database but does not hold TLOG_SIGNING_KEY appends
 * links with correctly recomputed hashes. The server's next append must not sign a checkpoint
 * over them: every link the server writes carries its store MAC, and a seal refuses a link past
 * the last checkpoint without a valid one.
 */
describe('links written straight into the store are not sealed by the next append (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
  });
  afterAll(async () => t.close());

  /** Appends `n` links after the site's head, hashed as the server hashes them, with no MAC. */
  function forgeTail(siteId: string, n: number, fields: { type?: string } = {}): number {
    return forgeLedgerLinks(t, siteId, n, (i) => ({
      type: fields.type ?? (i % 2 === 0 ? 'check_in' : 'check_out'),
      timestamp: new Date(Date.now() - 3_600_000 + i * 60_000).toISOString(),
    }));
  }

  itOnSqliteFile(
    'should refuse to seal a forged tail: verify names it, /health is degraded, the site answers 503 ledger_unauthenticated_entry',
    async () => {
      const { siteId } = await createSite(t.baseUrl, t.keys.admin);
      const asha = await phoneAt(t.baseUrl, t.keys.admin, siteId);
      const at = new Date(Date.now() - 10_000).toISOString();
      await sync(t.baseUrl, asha, [punch(asha, 'check_in', at)]);
      expect((await verifyLedger(t, siteId)).ok).toBe(true);

      const head = forgeTail(siteId, 2);
      const bina = await phoneAt(t.baseUrl, t.keys.admin, siteId);
      const refused = await syncBatch(t.baseUrl, bina.token, [
        punch(bina, 'check_in', new Date(Date.now() - 5_000).toISOString()),
      ]);
      expect(refused.status).toBe(503);
      expect(refused.body.code).toBe('ledger_unauthenticated_entry');

      const verified = await verifyLedger(t, siteId);
      expect(verified).toMatchObject({
        ok: false,
        reason: 'unauthenticated_entry',
        brokenAtSeq: head - 1,
      });
      // no checkpoint covers the forged links
      const checkpoint = await http(t.baseUrl, 'GET', `/api/v5/ledger/${siteId}/checkpoint`, {
        key: t.keys.auditor,
      });
      expect(checkpoint.body.size ?? checkpoint.body.treeSize).toBeLessThan(head - 1);

      const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
      expect(health.status).toBe(503);
      expect(health.body.error.logs).toMatchObject({
        state: 'degraded',
        unauthenticatedEntries: [{ log: 'ledger', siteId, seq: head - 1, reason: 'untagged' }],
      });
      expect(t.logs()).toContain('Ledger link without a valid store MAC');
      // the forged shift is not paid: the read model projects no unsealed link without a MAC
      const today = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
      const yesterday = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
      const days = await allTimesheetDays(
        t.baseUrl,
        t.keys.admin,
        siteId,
        `from=${yesterday}&to=${today}`,
      );
      const seqs = days.flatMap((d) => d.seqs as number[]);
      expect(seqs).toContain(1);
      expect(seqs).not.toContain(head - 1);
      expect(seqs).not.toContain(head);

      // still refused, and nothing appended meanwhile
      const again = await syncBatch(t.baseUrl, bina.token, [
        punch(bina, 'check_out', new Date(Date.now() - 1_000).toISOString()),
      ]);
      expect(again.status).toBe(503);
      expect(again.body.code).toBe('ledger_unauthenticated_entry');

      // the operator's way out: the links shown first, nothing changed without --yes
      const shown = await sealForeign('ledger', t.dataDir, '--site', siteId);
      expect(shown.code).toBe(2);
      expect(shown.stdout).toContain(`seq ${head - 1}  untagged`);
      expect(shown.stdout).toContain(`seq ${head}  untagged`);
      expect(shown.stdout).not.toMatch(/^seq 1 /m);
      expect(
        (
          await syncBatch(t.baseUrl, bina.token, [
            punch(bina, 'check_out', new Date(Date.now() - 500).toISOString()),
          ])
        ).status,
      ).toBe(503);
      // Bina's first punch was stored (then refused its seal): the head the listing read
      expect(shown.stdout).toContain(`would seal through seq ${head + 1} (recordHash "`);
      expect(shown.stdout).toContain(`run again with --yes --through ${head + 1}`);
      // --yes alone: the head it would read is not what the operator was shown
      const unbounded = await sealForeign('ledger', t.dataDir, '--site', siteId, '--yes');
      expect(unbounded.code).toBe(64);
      expect(unbounded.stderr).toContain('--yes needs --through <seq>');
      // a forged link more after the listing: not sealed by the operator's decision on it
      const later = forgeTail(siteId, 1);
      expect(later).toBe(head + 2);
      const sealed = await sealForeign(
        'ledger',
        t.dataDir,
        '--site',
        siteId,
        ...sealConfirmation(shown.stdout),
      );
      expect(sealed.stderr).toBe('');
      expect(sealed.code).toBe(0);
      expect(sealed.stdout).toContain(`checkpoint of size ${head + 1} signed`);
      expect(sealed.stdout).toContain(`seq ${later}  untagged`);
      expect(sealed.stdout).toContain(`(past seq ${head + 1}: not sealed)`);
      expect(sealed.stdout).toContain("the site's appends stay refused");
      const still = await syncBatch(t.baseUrl, bina.token, [
        punch(bina, 'check_out', new Date(Date.now() - 300).toISOString()),
      ]);
      expect([still.status, still.body.code]).toEqual([503, 'ledger_unauthenticated_entry']);
      // shown, then decided on
      const next = await sealForeign('ledger', t.dataDir, '--site', siteId);
      expect(next.code).toBe(2);
      expect(next.stdout).not.toContain(`seq ${head}  untagged`);
      expect(next.stdout).toContain(`would seal through seq ${later}`);
      const rest = await sealForeign(
        'ledger',
        t.dataDir,
        '--site',
        siteId,
        ...sealConfirmation(next.stdout),
      );
      expect([rest.code, rest.stderr]).toEqual([0, '']);
      expect(rest.stdout).toContain(`checkpoint of size ${later} signed`);
      // the seal ran in another process: /health asks the ledger again (at most once a second)
      // and is healthy before any request of the site clears it
      const healed = await pollUntil(
        () => http(t.baseUrl, 'GET', '/health', { key: t.keys.admin }),
        (res) => res.status === 200,
      );
      expect([healed.status, healed.body.error?.logs]).toEqual([200, undefined]);

      const open = await syncBatch(t.baseUrl, bina.token, [
        punch(bina, 'check_out', new Date(Date.now() - 100).toISOString()),
      ]);
      expect(open.status).toBe(200);
      expect(await verifyLedger(t, siteId)).toMatchObject({ ok: true, length: later + 1 });
      expect((await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin })).status).toBe(200);
    },
    JOB_TIMEOUT,
  );

  itOnSqliteFile(
    "should still seal the server's own link left unsealed (a crash between the append and its seal) with the next append",
    async () => {
      const { siteId } = await createSite(t.baseUrl, t.keys.admin);
      const asha = await phoneAt(t.baseUrl, t.keys.admin, siteId);
      await sync(t.baseUrl, asha, [
        punch(asha, 'check_in', new Date(Date.now() - 20_000).toISOString()),
      ]);
      // the server's own append, committed, its seal never run (the process died in between)
      const packet = punch(asha, 'check_out', new Date(Date.now() - 15_000).toISOString());
      await t.app.get(AttendanceLogRepository).appendToChains([
        {
          siteId,
          packetId: packet.payload.packetId,
          data: { ...packet.payload, signature: packet.signature } as never,
          meta: { isOfflineSync: true, syncTimestamp: new Date().toISOString() },
        },
      ]);
      expect(await verifyLedger(t, siteId)).toMatchObject({
        ok: false,
        reason: 'checkpoint_missing',
      });

      const bina = await phoneAt(t.baseUrl, t.keys.admin, siteId);
      const res = await syncBatch(t.baseUrl, bina.token, [
        punch(bina, 'check_in', new Date(Date.now() - 5_000).toISOString()),
      ]);
      expect(res.status).toBe(200);
      expect(await verifyLedger(t, siteId)).toMatchObject({ ok: true, length: 3 });
    },
  );

  itOnSqliteFile(
    'should refuse an unknown site (exit 64) rather than find nothing to seal',
    async () => {
      const unknown = await sealForeign('ledger', t.dataDir, '--site', 'nosuch');
      expect(unknown.code).toBe(64);
      expect(unknown.stderr).toContain('unknown site "nosuch"');
      expect(unknown.stdout).not.toContain('nothing to seal');
      // a site without links is known: nothing to seal, exit 0
      const { siteId } = await createSite(t.baseUrl, t.keys.admin);
      const empty = await sealForeign('ledger', t.dataDir, '--site', siteId);
      expect([empty.code, empty.stdout]).toEqual([0, expect.stringContaining('nothing to seal')]);
    },
    JOB_TIMEOUT,
  );

  itOnSqliteFile(
    'should not let a field forge a line, and refuse a tail rewritten or edited after the listing',
    async () => {
      const { siteId } = await createSite(t.baseUrl, t.keys.admin);
      const asha = await phoneAt(t.baseUrl, t.keys.admin, siteId);
      await sync(t.baseUrl, asha, [
        punch(asha, 'check_in', new Date(Date.now() - 20_000).toISOString()),
      ]);
      const forged = forgeTail(siteId, 1, { type: 'check_in\nseq 99  untagged\u001b[2K' });

      const shown = await sealForeign('ledger', t.dataDir, '--site', siteId);
      expect(shown.code).toBe(2);
      expect(shown.stdout.split('\n').filter((line) => line.startsWith('seq '))).toHaveLength(1);
      expect(shown.stdout).not.toContain('\u001b');
      expect(shown.stdout).toContain(
        `seq ${forged}  untagged  "check_in\\nseq 99  untagged\\u001b[2K"`,
      );

      // the listed link replaced by another, hashed and chained as the server would, same seq
      withStoreFile(t, (db) => {
        db.exec('DROP TRIGGER IF EXISTS attendance_logs_append_only_delete');
        db.prepare('DELETE FROM attendance_logs WHERE site_id = ? AND seq = ?').run(siteId, forged);
      });
      expect(forgeTail(siteId, 1)).toBe(forged);
      const rewritten = await sealForeign(
        'ledger',
        t.dataDir,
        '--site',
        siteId,
        ...sealConfirmation(shown.stdout),
      );
      expect(rewritten.code).toBe(65);
      expect(rewritten.stderr).toContain(`link ${forged} is not the one listed (head_changed)`);

      // a link whose data no longer hashes to its recordHash: listed, never sealed
      const again = await sealForeign('ledger', t.dataDir, '--site', siteId);
      withStoreFile(t, (edit) => {
        edit.exec('DROP TRIGGER IF EXISTS attendance_logs_append_only_update');
        edit
          .prepare(
            "UPDATE attendance_logs SET data = replace(data, 'check_', 'checK_') WHERE site_id = ? AND seq = ?",
          )
          .run(siteId, forged);
      });
      const edited = await sealForeign('ledger', t.dataDir, '--site', siteId);
      expect(edited.stdout).toContain(`seq ${forged}  record_hash_mismatch`);
      // listed as unsealable, no command offered that would be refused
      expect(edited.code).toBe(65);
      expect(edited.stdout).toMatch(
        new RegExp(`seq ${forged}  record_hash_mismatch.*\\(cannot be sealed\\)`),
      );
      expect(edited.stdout).not.toContain('run again with');
      expect(edited.stderr).toContain(`cannot be sealed: link ${forged} does not hash`);
      expect(edited.stderr).toContain('Restore the store from a backup');
      const refused = await sealForeign(
        'ledger',
        t.dataDir,
        '--site',
        siteId,
        ...sealConfirmation(again.stdout),
      );
      expect(refused.code).toBe(65);
      expect(refused.stderr).toContain(`cannot be sealed: link ${forged} does not hash`);
      const checkpoint = await http(t.baseUrl, 'GET', `/api/v5/ledger/${siteId}/checkpoint`, {
        key: t.keys.auditor,
      });
      expect(checkpoint.body.size ?? checkpoint.body.treeSize).toBe(forged - 1);
    },
    JOB_TIMEOUT,
  );
});
