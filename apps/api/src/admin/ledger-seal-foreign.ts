/**
 * `npm run ledger:seal-foreign -- --site <siteId> [--yes --through <seq>]`: the operator's way
 * out when a site's seal was refused (`ledger_unauthenticated_entry`, `/health` degraded): links
 * past the site's last checkpoint that carry no valid server MAC (written straight into the
 * database, or tagged under a signing key retired before they were sealed). Without `--yes` it
 * lists them (seq, reason, kind or punch type, worker, device, time, recordHash) and the seq it
 * would seal through (the head it read), and changes nothing; with `--yes --through <seq>` (the
 * seq that listing showed) it signs a checkpoint over the chain up to that seq, the operator
 * having decided that the links listed are genuine (or having restored the store without them
 * first). Links appended since the listing are never sealed by it: a link past `<seq>` without
 * a valid MAC is refused again, a genuine one is sealed by the servers' next append. `--yes`
 * without `--through` is refused (the head read in that run is not what the operator saw). The
 * running servers take appends for the site again at their next attempt. Run it with the
 * server's environment (DATA_DIR or DATABASE_URL, TLOG_SIGNING_KEY).
 */
import { LedgerService } from '@app/offline-sync';
import { runAppJob } from './app-job';

const LISTED = 1000;
const USAGE = 'usage: ledger:seal-foreign --site <siteId> [--yes --through <seq>]\n';

function usage(why?: string): never {
  process.stderr.write(`${why ? `${why}\n` : ''}${USAGE}`);
  process.exit(64);
}

export function ledgerSealForeign(args: string[]): void {
  const at = args.indexOf('--site');
  const siteId = at >= 0 ? args[at + 1] : undefined;
  if (!siteId || siteId.startsWith('--')) usage();
  const confirmed = args.includes('--yes');
  const throughAt = args.indexOf('--through');
  const throughArg = throughAt >= 0 ? args[throughAt + 1] : undefined;
  if (throughAt >= 0 && !/^[1-9][0-9]{0,15}$/.test(throughArg ?? ''))
    usage('--through takes the seq the listing showed (a whole number from 1)');
  const through = throughArg === undefined ? undefined : Number(throughArg);
  if (confirmed && through === undefined)
    usage(
      '--yes needs --through <seq>: the seq the listing (run without --yes) says it would seal through, so links appended since are not sealed unseen',
    );
  runAppJob('ledger:seal-foreign failed', async (app) => {
    const ledger = app.get(LedgerService, { strict: false });
    const { sealedSize, links } = await ledger.unauthenticatedLinks(siteId, LISTED);
    const head = await ledger.headSeq(siteId);
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(`site ${siteId}: ${head} links, the last checkpoint covers ${sealedSize}`);
    if (links.length === 0) {
      out('no link past the last checkpoint lacks a valid server MAC: nothing to seal');
      return;
    }
    const upTo = through ?? head;
    if (upTo > head) {
      process.stderr.write(
        `refused: --through ${upTo} is past the site's head (seq ${head}): give the seq the listing showed\n`,
      );
      process.exitCode = 64;
      return;
    }
    for (const link of links) {
      const data = link.data as unknown as Record<string, string | undefined>;
      out(
        [
          `seq ${link.seq}`,
          link.reason,
          data.kind ?? data.type ?? '-',
          `worker ${data.workerId ?? '-'}`,
          `device ${data.deviceId ?? '-'}`,
          data.timestamp ?? data.at ?? '',
          `recordHash ${link.recordHash}`,
          ...(link.seq > upTo ? [`(past seq ${upTo}: not sealed)`] : []),
        ].join('  '),
      );
    }
    if (links.length === LISTED) out(`(the first ${LISTED} shown)`);
    if (!confirmed) {
      out(`would seal through seq ${upTo}`);
      out(
        `not sealed: run again with --yes --through ${upTo} to sign a checkpoint over seq 1..${upTo}, these links included`,
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
    const size = await ledger.sealForeign(siteId, upTo);
    out(`sealed: checkpoint of size ${size} signed (through seq ${upTo})`);
    if (links.some((link) => link.seq > upTo))
      out(
        `links past seq ${upTo} without a valid server MAC are not sealed: the site's appends stay refused; run without --yes to see them`,
      );
    else if (head > upTo)
      out(
        `seq ${upTo + 1}..${head}, appended since, carry the server's MAC: the servers seal them with their next append; the site takes appends again`,
      );
    else out('the site takes appends again');
  });
}
