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
import { ForeignSealRefusedError } from '@app/tlog';
import { VaultAuditService } from '@app/vault/vault-audit.service';
import { auditTime } from '@app/vault/domain/vault-audit-record';
import { runAppJob } from './app-job';
import { q } from './quote';

const LISTED = 1000;
const USAGE = 'usage: vault:seal-foreign [--yes --through <seq> --head <recordHash>]\n';

function usage(why?: string): never {
  process.stderr.write(`${why ? `${why}\n` : ''}${USAGE}`);
  process.exit(64);
}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? (args[at + 1] ?? '') : undefined;
}

export function vaultSealForeign(args: string[]): void {
  const throughArg = option(args, '--through');
  const headArg = option(args, '--head');
  const known = args.filter((a, i) => {
    if (a === '--yes' || a === '--through' || a === '--head') return true;
    const before = args[i - 1];
    return before === '--through' || before === '--head';
  });
  if (known.length !== args.length) usage();
  if (throughArg !== undefined && !/^[1-9][0-9]{0,15}$/.test(throughArg))
    usage('--through takes the seq the listing showed (a whole number from 1)');
  if (headArg !== undefined && !/^[0-9a-f]{64}$/.test(headArg))
    usage('--head takes the recordHash the listing showed (64 hex digits)');
  const confirmed = args.includes('--yes');
  const through = throughArg === undefined ? undefined : Number(throughArg);
  if (confirmed && (through === undefined || headArg === undefined))
    usage(
      '--yes needs --through <seq> --head <recordHash>: what the listing (run without --yes) says it would seal through, so records appended or rewritten since are not sealed unseen',
    );
  runAppJob('vault:seal-foreign failed', async (app) => {
    const audit = app.get(VaultAuditService, { strict: false });
    const listing = await audit.unauthenticatedRecords(LISTED);
    const { sealedSize, head, records, complete } = listing;
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(`vault audit: ${head} records, the last checkpoint covers ${sealedSize}`);
    if (records.length === 0) {
      out('no record past the last checkpoint lacks a valid server MAC: nothing to seal');
      return;
    }
    const upTo = through ?? listing.through;
    if (upTo > head) {
      process.stderr.write(
        `refused: --through ${upTo} is past the log's head (seq ${head}): give the seq the listing showed\n`,
      );
      process.exitCode = 64;
      return;
    }
    for (const record of records) {
      out(
        [
          `seq ${record.seq}`,
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
          ...(record.seq > upTo ? [`(past seq ${upTo}: not sealed)`] : []),
        ].join('  '),
      );
    }
    if (!complete) out(`(the first ${LISTED} shown)`);
    if (!confirmed) {
      const at = await audit.recordHashAt(upTo);
      out(`would seal through seq ${upTo} (recordHash ${q(at)})`);
      out(
        `not sealed: run again with --yes --through ${upTo} --head ${at} to sign a checkpoint over seq 1..${upTo}, these records included`,
      );
      process.exitCode = 2;
      return;
    }
    if (upTo <= sealedSize) {
      process.stderr.write(
        `refused: the last checkpoint already covers seq ${sealedSize} (--through ${upTo}): run without --yes to see what is left\n`,
      );
      process.exitCode = 64;
      return;
    }
    let size: number;
    try {
      size = await audit.sealForeign(upTo, headArg as string);
    } catch (error) {
      if (!(error instanceof ForeignSealRefusedError)) throw error;
      process.stderr.write(
        `refused: record ${error.seq} is not the one listed (${error.reason}): nothing sealed; run without --yes to see the log as it is now\n`,
      );
      process.exitCode = 65;
      return;
    }
    out(`sealed: checkpoint of size ${size} signed (through seq ${upTo})`);
    if (records.some((record) => record.seq > upTo))
      out(
        `records past seq ${upTo} without a valid server MAC are not sealed: the vault stays refused; run without --yes to see them`,
      );
    else if (!complete)
      out(`records past seq ${upTo} were not looked at: run without --yes to see what is left`);
    else if (head > upTo)
      out(
        `seq ${upTo + 1}..${head}, recorded since, carry the server's MAC: the servers seal them with their next record; the vault takes requests again`,
      );
    else out('the vault takes requests again');
  });
}
