/**
 * `npm run vault:seal-foreign [-- --yes --through <seq> --head <recordHash>]`: the operator's
 * way out when the vault audit log's seal was refused (the vault answers 503
 * `audit_unavailable`, `/health` degraded naming `vault-audit`): records past the log's last
 * checkpoint that the server did not write (no valid server MAC: written straight into the
 * database, from before the tags, or tagged under a signing key retired before they were
 * sealed). Without `--yes` it lists them (seq, fault, every field JSON-quoted, recordHash) and
 * the seq it would seal through with the recordHash of the record there, and changes nothing
 * (exit 2); with `--yes --through <seq> --head <recordHash>` (what that listing showed) it
 * signs a checkpoint over the log up to that seq, the operator having decided that the records
 * listed are genuine (or having restored the store without them first). The record at `<seq>`
 * must still have that recordHash and every record up to it must hash to its recordHash and
 * chain to the one before (checked as the seal reads them): records rewritten since the listing
 * are refused, and records appended since are never sealed by it (one without a valid MAC is
 * refused again, a genuine one is sealed by the servers' next record). The running servers take
 * vault requests again at their next attempt. Run it with the server's environment (DATA_DIR or
 * DATABASE_URL, TLOG_SIGNING_KEY).
 */
import { INestApplicationContext } from '@nestjs/common';
import { VaultAuditService } from '@app/vault/vault-audit.service';
import { auditTime } from '@app/vault/domain/vault-audit-record';
import { q } from './quote';
import { LISTED, runSealForeign, sealForeignArgs } from './seal-foreign';

/** A record the listing names. */
type ForeignRecord = Awaited<
  ReturnType<VaultAuditService['unauthenticatedRecords']>
>['records'][number];

const USAGE = 'usage: vault:seal-foreign [--yes --through <seq> --head <recordHash>]';

export function vaultSealForeign(args: string[]): void {
  const known = args.filter((a, i) => {
    if (a === '--yes' || a === '--through' || a === '--head') return true;
    const before = args[i - 1];
    return before === '--through' || before === '--head';
  });
  if (known.length !== args.length) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(64);
  }
  const audit = (app: INestApplicationContext) => app.get(VaultAuditService, { strict: false });
  runSealForeign<ForeignRecord>(
    {
      command: 'vault:seal-foreign',
      entry: 'record',
      entries: 'records',
      headOf: "the log's head",
      whole: 'the log',
      header: ({ head, sealedSize }) =>
        `vault audit: ${head} records, the last checkpoint covers ${sealedSize}`,
      describe: (record) => [
        `fault ${record.fault}`,
        `action ${q(record.action)}`,
        `result ${q(record.result)}`,
        `reason ${record.reason === undefined ? '-' : q(record.reason)}`,
        `file ${q(record.fileId)}`,
        `actor ${q(record.actor)}`,
        `role ${q(record.role)}`,
        `ip ${q(record.ip)}`,
        `purpose ${q(record.purpose)}`,
        `at ${auditTime(record.at) ?? 'unreadable'}`,
        `recordHash ${q(record.recordHash)}`,
      ],
      fault: (record) => record.fault,
      list: async (app) => {
        const { records, ...rest } = await audit(app).unauthenticatedRecords(LISTED);
        return { ...rest, entries: records };
      },
      recordHashAt: (app, seq) => audit(app).recordHashAt(seq),
      seal: (app, through, head) => audit(app).sealForeign(through, head),
      sealTail: (app, head) => audit(app).sealTail(head),
      stillRefused: 'the vault stays refused',
      since: "recorded since, carry the server's MAC: the servers seal them with their next record",
      reopened: 'the vault takes requests again',
    },
    sealForeignArgs(args, USAGE, 'records'),
  );
}
