import { LedgerService, NO_DEVICE } from '@app/offline-sync';
import { isCorrectionData } from './domain/correction';
import { Acknowledgement } from './domain/timesheet-day';
import { TimesheetEntry } from './domain/timesheet-entry';

/**
 * The `acknowledge_over_max_hours` corrections among `corrections` (voided too), each live one
 * with the day seqs its ledger entry records (`CorrectionData.daySeqs`): the read model keeps
 * no copy of them, so the live acknowledgements' links are read from the ledger, all in one
 * read by their keys (a correction's: its correctionId, no device); a voided one is never the
 * one that holds, and is not read. Each was one read of its own (reviewer O #6): a page of
 * days holding many acknowledgements made as many round trips on MongoDB.
 *
 * Unchecked, as `CorrectionService.workerMoved`'s read: the links are read by key
 * (`linksOf`), not hashed again from their stored texts nor tag- or proof-checked as the read
 * model's catch-up and a correction's target are. A link rewritten in the store could change
 * which state of its day an acknowledgement holds for (the informational over_max_hours flag
 * only, never hours or what is appended): a known gap (docs/architecture.md). What is checked
 * (smallfix review M1): the recorded seqs are compared with the day's actual seqs at every read
 * (`overMaxHoursAcknowledgement`), and a `daySeqs` that is no list holds for no day.
 */
export async function acknowledgementsAmong(
  ledger: LedgerService,
  siteId: string,
  corrections: TimesheetEntry[],
): Promise<Acknowledgement[]> {
  const acks = corrections.filter((c) => c.action === 'acknowledge_over_max_hours');
  const live = acks.filter((a) => !a.voided);
  const links = await ledger.linksOf(
    live.map((a) => ({ deviceId: NO_DEVICE, packetId: a.packetId })),
  );
  const linkOf = new Map(live.map((a, i) => [a.seq, links[i]]));
  return acks.map((a): Acknowledgement => {
    const link = linkOf.get(a.seq);
    // the entry's own link only (its site and place): a key names one link in the whole ledger
    const own = link && link.siteId === siteId && link.seq === a.seq ? link : undefined;
    const data = own && isCorrectionData(own.data) ? own.data : undefined;
    if (data?.daySeqs === undefined) return a;
    // the recorded seqs are compared with the day's as it is read (`overMaxHoursAcknowledgement`:
    // exactly the day's seqs below the acknowledgement, so a list that leaves out the flagged
    // entry, names a later seq or a non-number never matches); one that is no list at all was
    // taken for none, the older rule (smallfix review M1): it holds for no day now
    return { ...a, daySeqs: Array.isArray(data.daySeqs) ? data.daySeqs : [] };
  });
}
