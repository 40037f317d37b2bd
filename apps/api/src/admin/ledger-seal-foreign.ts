/**
 * `npm run ledger:seal-foreign -- --site <siteId> [--yes]`: the operator's way out when a site's
 * seal was refused (`ledger_unauthenticated_entry`, `/health` degraded): links past the site's
 * last checkpoint that carry no valid server MAC (written straight into the database, or tagged
 * under a signing key retired before they were sealed). Without `--yes` it lists them (seq,
 * reason, kind or punch type, worker, device, time, recordHash) and changes nothing; with
 * `--yes` it signs a checkpoint over the chain up to its head as listed, the operator having
 * decided that those links are genuine (or having restored the store without them first). The
 * running servers take appends for the site again at their next attempt. Run it with the
 * server's environment (DATA_DIR or DATABASE_URL, TLOG_SIGNING_KEY).
 */
import { LedgerService } from '@app/offline-sync';
import { runAppJob } from './app-job';

const LISTED = 1000;

export function ledgerSealForeign(args: string[]): void {
  const at = args.indexOf('--site');
  const siteId = at >= 0 ? args[at + 1] : undefined;
  if (!siteId || siteId.startsWith('--')) {
    process.stderr.write('usage: ledger:seal-foreign --site <siteId> [--yes]\n');
    process.exit(64);
  }
  const confirmed = args.includes('--yes');
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
        ].join('  '),
      );
    }
    if (links.length === LISTED) out(`(the first ${LISTED} shown)`);
    if (!confirmed) {
      out(
        `not sealed: run again with --yes to sign a checkpoint over seq 1..${head}, these links included`,
      );
      process.exitCode = 2;
      return;
    }
    const size = await ledger.sealForeign(siteId, head);
    out(`sealed: checkpoint of size ${size} signed; the site takes appends again`);
  });
}
