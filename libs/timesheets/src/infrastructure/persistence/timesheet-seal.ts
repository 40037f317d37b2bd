import { Injectable } from '@nestjs/common';
import { HmacSha256Key } from '@app/common/crypto/hmac-sha256-key';
import { StoreMac } from '@app/tlog';
import { TimesheetEntry } from '../../domain/timesheet-entry';
import { TimesheetsError } from '../../timesheets.errors';

/** A read-model row whose tag did not verify: the day's keys, or the entry's seq. */
export interface TamperedRow {
  workerId: string;
  day?: string;
  seq?: number;
  /**
   * A MongoDB day tagged before its tag bound its `basis` (it verifies without it), while the
   * store may still hold such days: recomputed as a changed day is, counted as `day_legacy`
   * rather than as changed outside the server.
   */
  legacy?: boolean;
}

/**
 * 503 `timesheets_tampered`: rows of the site's read model whose tag (TimesheetSeal) does not
 * verify. Thrown by the stores' reads, so no caller can use such a row as good; a read of days
 * repairs them from the entries (TimesheetProjector.repairDays) and reads again, entries need
 * `npm run timesheets:rebuild` (they are copies of the ledger, recomputed only from it).
 * `stale`: entries whose tag verifies but whose state is older than the corrections stored
 * with them (a row put back from before a correction: TimesheetProjector.checkStates).
 */
export class TimesheetsTamperedError extends TimesheetsError {
  constructor(
    readonly siteId: string,
    readonly rowKind: 'day' | 'entry',
    readonly rows: TamperedRow[],
    readonly stale = false,
  ) {
    super(
      'timesheets_tampered',
      rowKind === 'day'
        ? "Rows of the site's timesheets do not match the server's tags; they are recomputed from the ledger"
        : "Entries of the site's timesheet read model were changed outside the server; an operator rebuilds it (npm run timesheets:rebuild)",
    );
  }
}

/**
 * The tags of the timesheet read model's rows (StoreMac, purposes 'timesheet-day' and
 * 'timesheet-entry'): a day's tag covers its keys (site, worker, day), its worked seconds, its
 * body and, on MongoDB, its `basis` when above 0 (the write version its recompute read: a day
 * of a higher basis is kept over an older recompute's, so one raised by a database writer
 * would keep every later recompute out: review T3, M-3); an entry's every column. Someone who
 * can write the database but not read STORE_MAC_KEY cannot make a row (nor move one to another
 * worker or day) that verifies. A row stores no key id: it verifies under the current key or a
 * retired one (rows tagged before a rotation of STORE_MAC_KEY).
 */
@Injectable()
export class TimesheetSeal {
  /** The entries' HMAC under the current key's 'timesheet-entry' key (made at the first tag). */
  private entryMac?: HmacSha256Key;

  constructor(private readonly mac: StoreMac) {}

  /** The store-MAC key's id (StoreMac.kid): the rows the server writes are tagged under it. */
  get kid(): string {
    return this.mac.kid;
  }

  /** Whether rows tagged under this key id verify here (the current key or a retired one). */
  knows(kid: string | undefined): boolean {
    return this.mac.knows(kid);
  }

  dayTag(
    siteId: string,
    workerId: string,
    day: string,
    workedSeconds: number,
    body: string,
    basis = 0,
  ): string {
    return this.mac.mac(
      'timesheet-day',
      dayData(siteId, workerId, day, workedSeconds, body, basis),
    );
  }

  /** `basis`: the stored one (absent: 0; SQLite stores none). */
  dayOk(
    siteId: string,
    workerId: string,
    day: string,
    workedSeconds: unknown,
    body: string,
    tag: unknown,
    basis: unknown = 0,
  ): boolean {
    if (typeof workedSeconds !== 'number') return false;
    if (typeof basis !== 'number') return false;
    return this.mac.verify(
      'timesheet-day',
      dayData(siteId, workerId, day, workedSeconds, body, basis),
      tag,
    );
  }

  /** StoreMac.mac('timesheet-entry', the entry's columns): the same tag, without a createHmac each. */
  entryTag(e: TimesheetEntry): string {
    return this.entryHmac().base64url(entryData(e));
  }

  /**
   * Whether the tag verifies under the current key or a retired one (StoreMac.verify): the
   * current key checked first without a createHmac, the others (a row tagged before a rotation,
   * or one that fails) as StoreMac checks them.
   */
  entryOk(e: TimesheetEntry, tag: unknown): boolean {
    if (typeof tag !== 'string' || tag.length !== 43) return false;
    const data = entryData(e);
    return (
      this.entryHmac().matchesBase64url(data, tag) || this.mac.verify('timesheet-entry', data, tag)
    );
  }

  private entryHmac(): HmacSha256Key {
    return (this.entryMac ??= new HmacSha256Key(this.mac.keyFor('timesheet-entry')));
  }

  /** The entries, after checking each one's tag (`tags` in the same order). */
  checkEntries(siteId: string, entries: TimesheetEntry[], tags: unknown[]): TimesheetEntry[] {
    let bad: TamperedRow[] | undefined;
    for (let i = 0; i < entries.length; i++) {
      if (!this.entryOk(entries[i], tags[i])) {
        (bad ??= []).push({ workerId: entries[i].workerId, seq: entries[i].seq });
      }
    }
    if (bad) throw new TimesheetsTamperedError(siteId, 'entry', bad);
    return entries;
  }
}

/** A basis of 0 (SQLite's days, a day repaired) is left out: the data the tags had before it was bound. */
function dayData(
  siteId: string,
  workerId: string,
  day: string,
  workedSeconds: number,
  body: string,
  basis: number,
): string {
  return basis > 0
    ? JSON.stringify([siteId, workerId, day, workedSeconds, body, basis])
    : JSON.stringify([siteId, workerId, day, workedSeconds, body]);
}

/** Every column of an entry, in TIMESHEET_ENTRY_COLUMNS order (absent: null). */
function entryData(e: TimesheetEntry): string {
  return JSON.stringify([
    e.siteId,
    e.seq,
    e.workerId,
    e.packetId,
    e.kind,
    e.punchType ?? null,
    e.action ?? null,
    e.targetSeq ?? null,
    e.at ?? null,
    e.effectiveAt ?? null,
    e.voided,
    e.correctedBy,
    e.lowTrust,
    e.outAt ?? null,
  ]);
}
