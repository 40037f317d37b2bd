/**
 * `npm run vault:seal-foreign [-- --yes]`: the operator's way out when the vault audit log's
 * seal was refused (the vault answers 503 `audit_unavailable`, `/health` degraded naming
 * `vault-audit`): records past the log's last checkpoint that the server did not write (no
 * valid server MAC: written straight into the database, from before the tags, or tagged under a
 * signing key retired before they were sealed). Without `--yes` it lists them (seq, reason,
 * action, result, file, actor, time, recordHash) and changes nothing (exit 2); with `--yes` it
 * signs a checkpoint over the log up to its head as listed, the operator having decided that
 * those records are genuine (or having restored the store without them first). The running
 * servers take vault requests again at their next attempt. Run it with the server's
 * environment (DATA_DIR or DATABASE_URL, TLOG_SIGNING_KEY).
 */
import { VaultAuditService } from '@app/vault/vault-audit.service';
import { auditTime } from '@app/vault/domain/vault-audit-record';
import { runAppJob } from './app-job';

const LISTED = 1000;

export function vaultSealForeign(args: string[]): void {
  const unknown = args.filter((a) => a !== '--yes');
  if (unknown.length > 0) {
    process.stderr.write('usage: vault:seal-foreign [--yes]\n');
    process.exit(64);
  }
  const confirmed = args.includes('--yes');
  runAppJob('vault:seal-foreign failed', async (app) => {
    const audit = app.get(VaultAuditService, { strict: false });
    const { sealedSize, head, records } = await audit.unauthenticatedRecords(LISTED);
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(`vault audit: ${head} records, the last checkpoint covers ${sealedSize}`);
    if (records.length === 0) {
      out('no record past the last checkpoint lacks a valid server MAC: nothing to seal');
      return;
    }
    for (const record of records) {
      out(
        [
          `seq ${record.seq}`,
          record.reason,
          `${record.action} ${record.result}`,
          `file ${record.fileId || '-'}`,
          `actor ${record.actor || '-'}`,
          auditTime(record.at) ?? 'unreadable time',
          `recordHash ${record.recordHash}`,
        ].join('  '),
      );
    }
    if (records.length === LISTED) out(`(the first ${LISTED} shown)`);
    if (!confirmed) {
      out(
        `not sealed: run again with --yes to sign a checkpoint over seq 1..${head}, these records included`,
      );
      process.exitCode = 2;
      return;
    }
    const size = await audit.sealForeign(head);
    out(`sealed: checkpoint of size ${size} signed; the vault takes requests again`);
  });
}
