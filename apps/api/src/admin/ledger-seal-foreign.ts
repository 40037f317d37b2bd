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
 * servers take appends for the site again at their next attempt. When every link past the last
 * checkpoint carries the server's MAC but none covers them (a server stopped between a batch's
 * commit and its seal, which the servers seal at start-up and every minute), it seals them at
 * once, no `--yes` needed. Run it with the server's
 * environment (DATA_DIR or DATABASE_URL, TLOG_SIGNING_KEY).
 */
import { INestApplicationContext } from '@nestjs/common';
import { LedgerService } from '@app/offline-sync';
import { WorkforceService } from '@app/workforce';
import { q } from './quote';
import { field, LISTED, runSealForeign, sealForeignArgs } from './seal-foreign';

/** A link the listing names. */
type ForeignLink = Awaited<ReturnType<LedgerService['unauthenticatedLinks']>>['links'][number];

const USAGE =
  'usage: ledger:seal-foreign --site <siteId> [--yes --through <seq> --head <recordHash>]';

export function ledgerSealForeign(args: string[]): void {
  const at = args.indexOf('--site');
  const siteId = at >= 0 ? (args[at + 1] ?? '') : '';
  if (!siteId || siteId.startsWith('--')) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(64);
  }
  const ledger = (app: INestApplicationContext) => app.get(LedgerService, { strict: false });
  runSealForeign<ForeignLink>(
    {
      command: 'ledger:seal-foreign',
      entry: 'link',
      entries: 'links',
      headOf: "the site's head",
      whole: 'the chain',
      header: ({ head, sealedSize }) =>
        `site ${q(siteId)}: ${head} links, the last checkpoint covers ${sealedSize}`,
      describe: (link) => {
        const data = link.data as unknown as Record<string, unknown>;
        return [
          link.reason,
          field(data.kind ?? data.type),
          `worker ${field(data.workerId)}`,
          `device ${field(data.deviceId)}`,
          `at ${field(data.timestamp ?? data.at)}`,
          `recordHash ${q(link.recordHash)}`,
        ];
      },
      fault: (link) => link.reason,
      unknown: async (app) => {
        const sites = await app.get(WorkforceService, { strict: false }).findSites([siteId]);
        if (sites.length > 0 || (await ledger(app).recordHashOf(siteId, 1)) !== undefined)
          return undefined;
        return `unknown site ${q(siteId)}: no site has this id and no ledger links carry it (the siteId as GET /api/v5/sites lists it)`;
      },
      list: async (app) => {
        const { links, ...rest } = await ledger(app).unauthenticatedLinks(siteId, LISTED);
        return { ...rest, entries: links };
      },
      recordHashAt: (app, seq) => ledger(app).recordHashOf(siteId, seq),
      seal: (app, through, head) => ledger(app).sealForeign(siteId, through, head),
      sealTail: (app, head) => ledger(app).sealTail(siteId, head),
      stillRefused: "the site's appends stay refused",
      since: "appended since, carry the server's MAC: the servers seal them with their next append",
      reopened: 'the site takes appends again',
    },
    sealForeignArgs(args, USAGE, 'links'),
  );
}
