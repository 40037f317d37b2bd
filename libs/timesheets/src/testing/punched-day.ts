import { TimesheetDay } from '../domain/timesheet-day';

/**
 * A worker-day for specs and benches, as the projector stores it: `punches` punches with seqs
 * from `firstSeq`, in shifts of `shiftMs` starting every `everyMs` from `firstIn` (a busy day
 * of 40 punches is ~4 KB of JSON). `packetId` names each punch (its seq and its index).
 */
export function punchedDay(day: {
  siteId: string;
  workerId: string;
  day: string;
  firstSeq: number;
  punches: number;
  firstIn: number;
  everyMs: number;
  shiftMs: number;
  packetId: (seq: number, index: number) => string;
}): TimesheetDay {
  const { firstSeq: seq, firstIn: at } = day;
  const shifts = Array.from({ length: day.punches / 2 }, (_, k) => ({
    inSeq: seq + 2 * k,
    in: at + k * day.everyMs,
    outSeq: seq + 2 * k + 1,
    out: at + k * day.everyMs + day.shiftMs,
    seconds: day.shiftMs / 1000,
  }));
  const seqs = Array.from({ length: day.punches }, (_, i) => seq + i);
  return {
    siteId: day.siteId,
    workerId: day.workerId,
    day: day.day,
    shifts,
    workedSeconds: (shifts.length * day.shiftMs) / 1000,
    firstIn: at,
    lastOut: shifts[shifts.length - 1].out,
    flags: [],
    corrected: false,
    seqs,
    packets: seqs.map((s, i) => [day.packetId(s, i), s]),
  };
}
