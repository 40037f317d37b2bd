import { Injectable, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { LedgerService } from '@app/offline-sync';
import { PayrollCloseService } from '@app/timesheets';
import { LeafSource, TransparencyLogService } from '@app/tlog';
import { VaultAuditService } from '@app/vault';

/** Entries read per call while lost Merkle nodes are rebuilt. */
const PAGE = 1000;

/**
 * Tells the transparency log how to read the entries of the logs this app keeps (a site's
 * ledger, the vault audit, a site's payroll closes: each close's digest by its place), so that Merkle nodes deleted outside the server are rebuilt from
 * them at start-up (`TreeNodesCheck`), before any seal of the log. The rebuilt root is checked
 * against the log's last signed checkpoint: entries read here are trusted for nothing else.
 */
@Injectable()
export class TlogLeafSources implements OnModuleInit {
  constructor(private readonly modules: ModuleRef) {}

  onModuleInit(): void {
    const tlog = this.modules.get(TransparencyLogService, { strict: false });
    const ledger = this.modules.get(LedgerService, { strict: false });
    const audit = this.modules.get(VaultAuditService, { strict: false });
    const closes = this.modules.get(PayrollCloseService, { strict: false });
    const ledgerPrefix = ledger.originOf('');
    tlog.addLeafSources((origin) => {
      if (origin === audit.origin) {
        return paged((after, limit) => audit.list({ afterSeq: after, limit }));
      }
      if (origin.startsWith(ledgerPrefix) && origin.length > ledgerPrefix.length) {
        const siteId = origin.slice(ledgerPrefix.length);
        return paged((after, limit) => ledger.readChain(siteId, after, limit));
      }
      const closesSite = closes.siteOfOrigin(origin);
      if (closesSite !== undefined) return closes.leavesOf(closesSite);
      return undefined;
    });
  }
}

/** A LeafSource over a paged read of entries in seq order (after a seq, up to a limit). */
function paged(
  read: (afterSeq: number, limit: number) => Promise<{ seq: number; recordHash: string }[]>,
): LeafSource {
  return async (fromSeq, toSeq) => {
    const hashes: string[] = [];
    let after = fromSeq - 1;
    while (after < toSeq) {
      const page = await read(after, Math.min(PAGE, toSeq - after));
      for (const entry of page) if (entry.seq <= toSeq) hashes.push(entry.recordHash);
      if (page.length === 0) break;
      after = page[page.length - 1].seq;
    }
    return hashes;
  };
}
