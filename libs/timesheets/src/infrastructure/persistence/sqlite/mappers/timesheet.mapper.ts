import { TimesheetEntry } from '../../../../domain/timesheet-entry';
import { entryFromStored } from '../../timesheet-stored';

export interface TimesheetEntryRow {
  site_id: string;
  seq: number;
  worker_id: string;
  packet_id: string;
  kind: string;
  punch_type: string | null;
  action: string | null;
  target_seq: number | null;
  at: number | null;
  effective_at: number | null;
  voided: number;
  corrected_by: string;
  low_trust: number;
  /** An added shift's check-out (timesheets migration 5; null on every other entry). */
  out_at: number | null;
}

/** The columns of timesheet_entries, in the order `writeColumns` writes them. */
export const TIMESHEET_ENTRY_COLUMNS =
  'site_id, seq, worker_id, packet_id, kind, punch_type, action, target_seq, at, effective_at, voided, corrected_by, low_trust, out_at';

/** `corrected_by` is a JSON array of seqs, nearly always empty. */
function correctedBy(text: string): number[] {
  return text === '[]' ? [] : (JSON.parse(text) as number[]);
}

export class TimesheetSqliteMapper {
  static toDomain(this: void, r: TimesheetEntryRow): TimesheetEntry {
    if (r.kind === 'punch' && r.punch_type && r.action === null && r.target_seq === null) {
      // a punch (nearly every row): one literal, in the order entryFromStored builds (a spec
      // holds the two to the same entry)
      return {
        siteId: r.site_id,
        seq: r.seq,
        workerId: r.worker_id,
        packetId: r.packet_id,
        kind: 'punch',
        punchType: r.punch_type as TimesheetEntry['punchType'],
        ...(r.at !== null ? { at: r.at } : {}),
        ...(r.effective_at !== null ? { effectiveAt: r.effective_at } : {}),
        voided: r.voided === 1,
        correctedBy: correctedBy(r.corrected_by),
        lowTrust: r.low_trust === 1,
      };
    }
    return TimesheetSqliteMapper.toDomainInFull(r);
  }

  /** The general case (any kind), through the conversion both stores share. */
  static toDomainInFull(this: void, r: TimesheetEntryRow): TimesheetEntry {
    return entryFromStored(
      {
        siteId: r.site_id,
        seq: r.seq,
        workerId: r.worker_id,
        packetId: r.packet_id,
        kind: r.kind,
        punchType: r.punch_type,
        action: r.action,
        targetSeq: r.target_seq,
        at: r.at,
        effectiveAt: r.effective_at,
        voided: r.voided === 1,
        lowTrust: r.low_trust === 1,
        outAt: r.out_at,
      },
      correctedBy(r.corrected_by),
    );
  }

  static toPersistence(this: void, e: TimesheetEntry): TimesheetEntryRow {
    return {
      site_id: e.siteId,
      seq: e.seq,
      worker_id: e.workerId,
      packet_id: e.packetId,
      kind: e.kind,
      punch_type: e.punchType ?? null,
      action: e.action ?? null,
      target_seq: e.targetSeq ?? null,
      at: e.at ?? null,
      effective_at: e.effectiveAt ?? null,
      voided: e.voided ? 1 : 0,
      corrected_by: JSON.stringify(e.correctedBy),
      low_trust: e.lowTrust ? 1 : 0,
      out_at: e.outAt ?? null,
    };
  }

  /**
   * Writes an entry's columns, in TIMESHEET_ENTRY_COLUMNS order, into `out` from `at` (a
   * multi-row INSERT's arguments); returns the index after them.
   */
  static writeColumns(this: void, out: unknown[], at: number, e: TimesheetEntry): number {
    out[at] = e.siteId;
    out[at + 1] = e.seq;
    out[at + 2] = e.workerId;
    out[at + 3] = e.packetId;
    out[at + 4] = e.kind;
    out[at + 5] = e.punchType ?? null;
    out[at + 6] = e.action ?? null;
    out[at + 7] = e.targetSeq ?? null;
    out[at + 8] = e.at ?? null;
    out[at + 9] = e.effectiveAt ?? null;
    out[at + 10] = e.voided ? 1 : 0;
    out[at + 11] = e.correctedBy.length === 0 ? '[]' : JSON.stringify(e.correctedBy);
    out[at + 12] = e.lowTrust ? 1 : 0;
    out[at + 13] = e.outAt ?? null;
    return at + 14;
  }
}
