import { LedgerService } from '@app/offline-sync';
import { isCorrectionData } from './domain/correction';
import { Acknowledgement } from './domain/timesheet-day';
import { TimesheetEntry } from './domain/timesheet-entry';

/**
 * The `acknowledge_over_max_hours` corrections among `corrections` (voided too), each live one
 * with the day seqs its ledger entry records (`CorrectionData.daySeqs`): the read model keeps
 * no copy of them, so each live acknowledgement is one ledger read (few days have one; a
 * voided one is never the one that holds, and is not read).
 */
export async function acknowledgementsAmong(
  ledger: LedgerService,
  siteId: string,
  corrections: TimesheetEntry[],
): Promise<Acknowledgement[]> {
  const acks = corrections.filter((c) => c.action === 'acknowledge_over_max_hours');
  return Promise.all(
    acks.map(async (a): Promise<Acknowledgement> => {
      if (a.voided) return a;
      const link = await ledger.findLink(siteId, { seq: a.seq });
      const data = link && isCorrectionData(link.data) ? link.data : undefined;
      return Array.isArray(data?.daySeqs) ? { ...a, daySeqs: data.daySeqs } : a;
    }),
  );
}
