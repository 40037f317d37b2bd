/**
 * `npm run ledger:seal-foreign -- --site <siteId> [--yes --through <seq> --head <recordHash>]`:
 * the operator's way out when a site's seal was refused (`ledger_unauthenticated_entry`,
 * `/health` degraded): links past the site's last checkpoint that carry no valid server MAC
 * (written straight into the database, or tagged under a signing key retired before they were
 * sealed). Without `--yes` it lists them (seq, reason, kind or punch type, worker, device, time,
 * recordHash: every field read from the database JSON-quoted) and the seq it would seal through
 * with the recordHash of the link there (the head it read first, or the seq before the first link
 * left off a long list), and changes nothing; with `--yes --through <seq> --head <recordHash>`
 * (what that listing showed) it signs a checkpoint over the chain up to that seq, the operator
 * having decided that the links listed are genuine (or having restored the store without them
 * first). The link at `<seq>` must still have that recordHash, and every link up to it must hash
 * to its recordHash and chain to the one before (checked as the seal reads them): links
 * rewritten since the listing are refused (exit 65). Links appended since the listing are never
 * sealed by it: a link past `<seq>` without a valid MAC is refused again, a genuine one is sealed
 * by the servers' next append. `--yes` without `--through` and `--head` is refused. The running
 * servers take appends for the site again at their next attempt. Run it with the server's
 * environment (DATA_DIR or DATABASE_URL, TLOG_SIGNING_KEY).
 */
import { LedgerService } from '@app/offline-sync';
import { ForeignSealRefusedError } from '@app/tlog';
import { runAppJob } from './app-job';
import { q } from './quote';

const LISTED = 1000;
const USAGE =
  'usage: ledger:seal-foreign --site <siteId> [--yes --through <seq> --head <recordHash>]\n';

function usage(why?: string): never {
  process.stderr.write(`${why ? `${why}\n` : ''}${USAGE}`);
  process.exit(64);
}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? (args[at + 1] ?? '') : undefined;
}

/** A field read from the database, JSON-quoted ('-': absent). */
const field = (value: unknown) => (value === undefined || value === null ? '-' : q(value));

export function ledgerSealForeign(args: string[]): void {
  const siteId = option(args, '--site');
  if (!siteId || siteId.startsWith('--')) usage();
  const confirmed = args.includes('--yes');
  const throughArg = option(args, '--through');
  const headArg = option(args, '--head');
  if (throughArg !== undefined && !/^[1-9][0-9]{0,15}$/.test(throughArg))
    usage('--through takes the seq the listing showed (a whole number from 1)');
  if (headArg !== undefined && !/^[0-9a-f]{64}$/.test(headArg))
    usage('--head takes the recordHash the listing showed (64 hex digits)');
  const through = throughArg === undefined ? undefined : Number(throughArg);
  if (confirmed && (through === undefined || headArg === undefined))
    usage(
      '--yes needs --through <seq> --head <recordHash>: what the listing (run without --yes) says it would seal through, so links appended or rewritten since are not sealed unseen',
    );
  runAppJob('ledger:seal-foreign failed', async (app) => {
    const ledger = app.get(LedgerService, { strict: false });
    const listing = await ledger.unauthenticatedLinks(siteId, LISTED);
    const { sealedSize, head, links, complete } = listing;
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(`site ${q(siteId)}: ${head} links, the last checkpoint covers ${sealedSize}`);
    if (links.length === 0) {
      out('no link past the last checkpoint lacks a valid server MAC: nothing to seal');
      return;
    }
    const upTo = through ?? listing.through;
    if (upTo > head) {
      process.stderr.write(
        `refused: --through ${upTo} is past the site's head (seq ${head}): give the seq the listing showed\n`,
      );
      process.exitCode = 64;
      return;
    }
    for (const link of links) {
      const data = link.data as unknown as Record<string, unknown>;
      out(
        [
          `seq ${link.seq}`,
          link.reason,
          field(data.kind ?? data.type),
          `worker ${field(data.workerId)}`,
          `device ${field(data.deviceId)}`,
          `at ${field(data.timestamp ?? data.at)}`,
          `recordHash ${q(link.recordHash)}`,
          ...(link.seq > upTo ? [`(past seq ${upTo}: not sealed)`] : []),
        ].join('  '),
      );
    }
    if (!complete) out(`(the first ${LISTED} shown)`);
    if (!confirmed) {
      const at = await ledger.recordHashOf(siteId, upTo);
      out(`would seal through seq ${upTo} (recordHash ${q(at)})`);
      out(
        `not sealed: run again with --yes --through ${upTo} --head ${at} to sign a checkpoint over seq 1..${upTo}, these links included`,
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
      size = await ledger.sealForeign(siteId, upTo, headArg as string);
    } catch (error) {
      if (!(error instanceof ForeignSealRefusedError)) throw error;
      process.stderr.write(
        `refused: link ${error.seq} is not the one listed (${error.reason}): nothing sealed; run without --yes to see the chain as it is now\n`,
      );
      process.exitCode = 65;
      return;
    }
    out(`sealed: checkpoint of size ${size} signed (through seq ${upTo})`);
    if (links.some((link) => link.seq > upTo))
      out(
        `links past seq ${upTo} without a valid server MAC are not sealed: the site's appends stay refused; run without --yes to see them`,
      );
    else if (!complete)
      out(`links past seq ${upTo} were not looked at: run without --yes to see what is left`);
    else if (head > upTo)
      out(
        `seq ${upTo + 1}..${head}, appended since, carry the server's MAC: the servers seal them with their next append; the site takes appends again`,
      );
    else out('the site takes appends again');
  });
}
