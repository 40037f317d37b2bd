import { localDay } from '@app/common';
import { isAddedShift, TimesheetEntry } from './timesheet-entry';

export type DayFlagType =
  | 'open_shift'
  | 'check_out_without_check_in'
  | 'low_trust'
  | 'corrected'
  | 'voided_punch'
  | 'voided_correction'
  | 'overlapping_shift'
  | 'overlaps_other_site'
  | 'over_max_hours'
  | 'over_max_hours_acknowledged'
  | 'fraud'
  | 'fraud_dismissed'
  | 'fraud_tampered';

/** Something a payroll clerk should look at, with the ledger entry (site, seq) behind it. */
export interface DayFlag {
  type: DayFlagType;
  seq: number;
  /**
   * For `fraud` and `fraud_dismissed`: the fraud event type (e.g. outside_geofence); for `overlaps_other_site`: the
   * siteId of the other site.
   */
  detail?: string;
}

export interface Shift {
  inSeq: number;
  in: number;
  outSeq?: number;
  out?: number;
  /** 0 while open. */
  seconds: number;
  /** A shift an add_shift correction recorded (`inSeq` and `outSeq` are the correction). */
  added?: true;
}

/** One worker's local day at one site. Times are epoch ms. */
export interface TimesheetDay {
  siteId: string;
  workerId: string;
  /** Local calendar day in the site's zone, `YYYY-MM-DD`. */
  day: string;
  shifts: Shift[];
  workedSeconds: number;
  firstIn?: number;
  lastOut?: number;
  flags: DayFlag[];
  corrected: boolean;
  /** Every ledger seq behind the day (punches and corrections), ascending. */
  seqs: number[];
  /**
   * [packetId, seq] of each punch of the day, by seq (fraud events name packets). Pairs, not an
   * object keyed by packet id: V8 builds an object of unique keys one hidden class per key, so
   * building one cost ~5 µs a key and parsing a stored day with 40 punches ~240 µs, 40× the
   * same day with pairs (docs/benchmarks.md, walindex).
   */
  packets: [packetId: string, seq: number][];
}

interface DayDraft {
  shifts: Shift[];
  flags: DayFlag[];
  seqs: Set<number>;
  /** seq → packetId: a packetId is unique per device only, a seq is the punch's own. */
  packets: Map<number, string>;
}

/** The order punch-like entries pair in: effective time, then seq (ledger order). */
export function byEffectiveTime(a: TimesheetEntry, b: TimesheetEntry): number {
  return a.effectiveAt! - b.effectiveAt! || a.seq - b.seq;
}

/**
 * The live (not voided) punch-like entries just before and just after the one at `seq`, in the
 * order computeDays pairs them: a check-in is closed by the entry after it, a check-out closes
 * the one before it (each when within the longest shift).
 */
export function liveNeighbours(
  entries: TimesheetEntry[],
  seq: number,
): { before?: TimesheetEntry; after?: TimesheetEntry } {
  // added shifts pair with nothing (`shiftOverlaps` keeps punches out of them)
  const live = entries.filter((e) => !e.voided && !isAddedShift(e)).sort(byEffectiveTime);
  const i = live.findIndex((e) => e.seq === seq);
  if (i < 0) return {};
  return { before: live[i - 1], after: live[i + 1] };
}

/**
 * The pairing of live punch-like entries sorted by effective time: a check-in with the next
 * entry when that is a check-out within `maxShiftMs` (a shift), else alone (an open shift); a
 * check-out that closes nothing alone. In time order.
 */
export function pairShifts(
  live: TimesheetEntry[],
  maxShiftMs: number,
): Array<{ in?: TimesheetEntry; out?: TimesheetEntry }> {
  const shifts: Array<{ in?: TimesheetEntry; out?: TimesheetEntry }> = [];
  for (let i = 0; i < live.length; i++) {
    const e = live[i];
    if (e.punchType !== 'check_in') {
      shifts.push({ out: e });
      continue;
    }
    const next = live[i + 1];
    if (next?.punchType === 'check_out' && next.effectiveAt! - e.effectiveAt! <= maxShiftMs) {
      shifts.push({ in: e, out: next });
      i++;
    } else shifts.push({ in: e });
  }
  return shifts;
}

/** The seqs of the entries `pairShifts` puts in a shift with a partner. */
export function pairedSeqs(live: TimesheetEntry[], maxShiftMs: number): Set<number> {
  const paired = new Set<number>();
  for (const shift of pairShifts(live, maxShiftMs)) {
    if (shift.in && shift.out) paired.add(shift.in.seq).add(shift.out.seq);
  }
  return paired;
}

/**
 * The punch-like entries a move's check reads (`movePartnersLost`), as [fromMs, toMs): the
 * longest shift either side of the recorded-or-current time `fromAt` and the new time `toAt`.
 * Pairing looks no further than the longest shift, so the check on this window is the check
 * on the worker's whole history.
 */
export function moveWindow(
  fromAt: number,
  toAt: number,
  maxShiftMs: number,
): { fromMs: number; toMs: number } {
  return {
    fromMs: Math.min(fromAt, toAt) - maxShiftMs,
    toMs: Math.max(fromAt, toAt) + maxShiftMs + 1,
  };
}

/**
 * The punches, other than the moved one, that have a partner as `pairShifts` pairs the live
 * entries now and would have none once the entry `seq` is effective at `at`, ascending. A
 * move may re-pair (a punch may keep a shift with another partner, and the moved punch goes
 * where it is put, even out of its shift), but not take a shift from a punch it did not move:
 * that would leave an open shift or a stray check-out (0 hours) the correction never named.
 * Pairs are disjoint, so an empty answer also means no fewer complete shifts than before.
 * `entries`: the worker's punch-like entries (voided ones are ignored), at least those of
 * `moveWindow`.
 */
export function movePartnersLost(
  entries: TimesheetEntry[],
  seq: number,
  at: number,
  maxShiftMs: number,
): number[] {
  const live = entries.filter((e) => !e.voided);
  const moved = live.map((e) => (e.seq === seq ? { ...e, effectiveAt: at } : e));
  const before = pairedSeqs(live.sort(byEffectiveTime), maxShiftMs);
  const after = pairedSeqs(moved.sort(byEffectiveTime), maxShiftMs);
  return [...before].filter((s) => s !== seq && !after.has(s)).sort((a, b) => a - b);
}

/**
 * Of the punches a move leaves without their partner (`lost`, from `movePartnersLost`), those
 * that lose it only because the shift would last longer than `maxShiftMs`: the punch and its
 * new neighbour are a check-in and a check-out in the right order, too far apart to pair. With
 * how long that shift would be, to name the limit rather than the order of the punches.
 */
export function moveShiftsTooLong(
  entries: TimesheetEntry[],
  seq: number,
  at: number,
  maxShiftMs: number,
  lost: number[],
): Array<{ seq: number; inSeq: number; outSeq: number; ms: number }> {
  const moved = entries
    .filter((e) => !e.voided && !isAddedShift(e))
    .map((e) => (e.seq === seq ? { ...e, effectiveAt: at } : e))
    .sort(byEffectiveTime);
  const tooLong: Array<{ seq: number; inSeq: number; outSeq: number; ms: number }> = [];
  for (const s of lost) {
    const i = moved.findIndex((e) => e.seq === s);
    const [from, to] =
      moved[i]?.punchType === 'check_in' ? [moved[i], moved[i + 1]] : [moved[i - 1], moved[i]];
    if (from?.punchType !== 'check_in' || to?.punchType !== 'check_out') continue;
    const ms = to.effectiveAt! - from.effectiveAt!;
    if (ms > maxShiftMs) tooLong.push({ seq: s, inSeq: from.seq, outSeq: to.seq, ms });
  }
  return tooLong;
}

/** A duration as a supervisor reads it: `16 h`, `16 h 02 min`, `16 h 00 min 30 s`. */
export function formatShiftLength(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const min = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const parts = [`${h} h`];
  if (min > 0 || s > 0) parts.push(`${String(min).padStart(2, '0')} min`);
  if (s > 0) parts.push(`${s} s`);
  return parts.join(' ');
}

/**
 * What a worker's shifts cover, as the day computation makes them: a paired shift from its
 * check-in to its check-out, an open check-in and a stray check-out at their instant, an
 * added shift from its check-in to its check-out. `seq` names the span (a pair by its
 * check-in).
 */
interface ShiftSpan {
  seq: number;
  from: number;
  to: number;
  kind: 'pair' | 'open' | 'stray' | 'added';
}

function spansOf(entries: TimesheetEntry[], maxShiftMs: number): ShiftSpan[] {
  const live = entries.filter((e) => !e.voided);
  const spans: ShiftSpan[] = live
    .filter(isAddedShift)
    .map((e) => ({ seq: e.seq, from: e.effectiveAt!, to: e.outAt!, kind: 'added' }));
  const punches = live.filter((e) => !isAddedShift(e)).sort(byEffectiveTime);
  for (const { in: i, out: o } of pairShifts(punches, maxShiftMs)) {
    if (i && o) spans.push({ seq: i.seq, from: i.effectiveAt!, to: o.effectiveAt!, kind: 'pair' });
    else if (i) spans.push({ seq: i.seq, from: i.effectiveAt!, to: i.effectiveAt!, kind: 'open' });
    else spans.push({ seq: o!.seq, from: o!.effectiveAt!, to: o!.effectiveAt!, kind: 'stray' });
  }
  return spans;
}

/**
 * Whether an added shift [from, to] and another span of the worker's overlap. Spans that
 * only touch do not (a shift may start when the other ends); an open check-in overlaps a
 * shift it falls in or starts with, a stray check-out one it falls in or ends with.
 */
function overlaps(added: ShiftSpan, other: ShiftSpan): boolean {
  if (other.kind === 'open') return added.from <= other.from && other.from < added.to;
  if (other.kind === 'stray') return added.from < other.to && other.to <= added.to;
  return added.from < other.to && other.from < added.to;
}

/** Whether a paired or added span overlaps another span: an instant (open, stray) only one of those. */
function spansOverlap(a: ShiftSpan, b: ShiftSpan): boolean {
  const closed = (s: ShiftSpan) => s.kind === 'pair' || s.kind === 'added';
  if (closed(a)) return overlaps(a, b);
  return closed(b) && overlaps(b, a);
}

/**
 * The worker's spans at this site (`entries`, as computeDays takes them) that overlap in time
 * a span of the same worker at another site (`others`: the worker's punch-like entries of
 * other sites, of a window reaching two longest shifts beyond the spans looked at), as
 * [this site's span seq, the other siteId], by seq then site. Payroll is per site: a worker
 * paid at two sites for one hour is paid twice, so each side's day is flagged
 * `overlaps_other_site`. Each site's punches pair among themselves (a check-in at one site is
 * not closed by a check-out at another); spans that only touch do not overlap, and an open
 * check-in or a stray check-out overlaps a shift it falls in (two instants never do).
 */
export function otherSiteOverlaps(
  entries: TimesheetEntry[],
  others: TimesheetEntry[],
  maxShiftMs: number,
): [number, string][] {
  if (others.length === 0) return [];
  const bySite = new Map<string, TimesheetEntry[]>();
  for (const e of others) {
    const list = bySite.get(e.siteId);
    if (list) list.push(e);
    else bySite.set(e.siteId, [e]);
  }
  const own = spansOf(entries, maxShiftMs);
  const found: [number, string][] = [];
  for (const [siteId, list] of bySite) {
    const theirs = spansOf(list, maxShiftMs);
    for (const span of own) {
      if (theirs.some((t) => spansOverlap(span, t))) found.push([span.seq, siteId]);
    }
  }
  return found.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
}

/**
 * The added shifts (add_shift corrections) of a worker that overlap another of its shifts,
 * a check-in or a check-out, as [added shift's seq, the other's seq], by seq. Added shifts
 * pair with no punch (the pairing of `pairShifts` is of punches only), so an added shift that
 * a punch falls in, or that a paired shift spans, would count the same hours twice: refused
 * when a correction would make one (`shift_overlap`), and flagged `overlapping_shift` when a
 * punch synced later does. `entries`: the worker's punch-like entries of a window reaching
 * the longest shift beyond the shifts looked at (voided ones are ignored).
 */
export function shiftOverlaps(entries: TimesheetEntry[], maxShiftMs: number): [number, number][] {
  const spans = spansOf(entries, maxShiftMs);
  const found: [number, number][] = [];
  for (const added of spans.filter((s) => s.kind === 'added')) {
    for (const other of spans) {
      if (other.seq !== added.seq && overlaps(added, other)) found.push([added.seq, other.seq]);
    }
  }
  return found.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/**
 * Pairs a worker's punch-like entries (sorted by effective time) into shifts and assigns each
 * to the local day it started on: a check-in is closed by the next entry if that is a check-out
 * within `maxShiftMs`; otherwise it stays open (flagged). A check-out not closing anything is
 * flagged. Voided entries take no part but are shown (flagged) on their day. The rule looks
 * only at neighbours within `maxShiftMs`, so computing a window with that margin is exact.
 * `others`: the worker's punch-like entries at other sites, over the window and two longest
 * shifts beyond its days (`otherSiteOverlaps`); a shift overlapping one of theirs flags its day
 * `overlaps_other_site`. A day whose hours exceed the longest shift is flagged `over_max_hours`.
 */
export function computeDays(
  siteId: string,
  workerId: string,
  entries: TimesheetEntry[],
  zone: string,
  maxShiftMs: number,
  others: TimesheetEntry[] = [],
): TimesheetDay[] {
  const drafts = new Map<string, DayDraft>();
  const draft = (at: number): DayDraft => {
    const day = localDay(at, zone);
    let d = drafts.get(day);
    if (!d) {
      d = { shifts: [], flags: [], seqs: new Set(), packets: new Map() };
      drafts.set(day, d);
    }
    return d;
  };
  const note = (d: DayDraft, e: TimesheetEntry) => {
    d.seqs.add(e.seq);
    for (const c of e.correctedBy) {
      d.seqs.add(c);
      d.flags.push({ type: 'corrected', seq: c });
    }
    if (e.kind === 'punch') d.packets.set(e.seq, e.packetId);
    // a voided entry counts for nothing: its device's trust is no longer the day's question
    if (e.lowTrust && !e.voided) d.flags.push({ type: 'low_trust', seq: e.seq });
  };
  const sorted = [...entries].sort(byEffectiveTime);
  const live = sorted.filter((e) => !e.voided && !isAddedShift(e));
  for (const e of sorted.filter((x) => x.voided)) {
    const d = draft(e.effectiveAt!);
    note(d, e);
    // a voided added check-out, check-in or shift is a correction undone, not a punch
    d.flags.push({ type: e.kind === 'punch' ? 'voided_punch' : 'voided_correction', seq: e.seq });
  }
  const added = sorted.filter((x) => !x.voided && isAddedShift(x));
  // nearly every window has none: the punches are not paired a second time for them
  const overlapping = new Set(
    added.length > 0 ? shiftOverlaps(sorted, maxShiftMs).map(([seq]) => seq) : [],
  );
  for (const e of added) {
    const d = draft(e.effectiveAt!);
    note(d, e);
    // the shift is itself a correction: its day is corrected by it
    d.flags.push({ type: 'corrected', seq: e.seq });
    if (overlapping.has(e.seq)) d.flags.push({ type: 'overlapping_shift', seq: e.seq });
    d.shifts.push({
      inSeq: e.seq,
      in: e.effectiveAt!,
      outSeq: e.seq,
      out: e.outAt!,
      seconds: Math.floor((e.outAt! - e.effectiveAt!) / 1000),
      added: true,
    });
  }
  // the instant a lone check-out is drafted at when it is not its own (`strayAnchor`)
  const anchorOf = new Map<number, number>();
  let lastIn: TimesheetEntry | undefined;
  for (const shift of pairShifts(live, maxShiftMs)) {
    const e = shift.in ?? shift.out!;
    if (shift.in) lastIn = shift.in;
    const anchor = shift.in ? e.effectiveAt! : strayAnchor(e, lastIn, maxShiftMs);
    if (anchor !== e.effectiveAt!) anchorOf.set(e.seq, anchor);
    const d = draft(anchor);
    note(d, e);
    if (!shift.in) {
      d.flags.push({ type: 'check_out_without_check_in', seq: e.seq });
    } else if (shift.out) {
      d.shifts.push({
        inSeq: e.seq,
        in: e.effectiveAt!,
        outSeq: shift.out.seq,
        out: shift.out.effectiveAt!,
        seconds: Math.floor((shift.out.effectiveAt! - e.effectiveAt!) / 1000),
      });
      note(d, shift.out);
    } else {
      d.shifts.push({ inSeq: e.seq, in: e.effectiveAt!, seconds: 0 });
      d.flags.push({ type: 'open_shift', seq: e.seq });
    }
  }
  // nearly every worker works at one site: the punches are not paired a second time then
  if (others.length > 0) {
    const startOf = new Map(sorted.map((e) => [e.seq, anchorOf.get(e.seq) ?? e.effectiveAt!]));
    for (const [seq, otherSite] of otherSiteOverlaps(sorted, others, maxShiftMs)) {
      // the span's day: the one its check-in (or lone punch) was drafted on
      draft(startOf.get(seq)!).flags.push({ type: 'overlaps_other_site', seq, detail: otherSite });
    }
  }
  return [...drafts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([day, d]) => finish(siteId, workerId, day, d, maxShiftMs));
}

/**
 * The instant a stray check-out (one that closes nothing) is drafted at: the check-in of the
 * shift it follows when that started within the longest shift before it (the night's day: a
 * 22:00–06:00 night with a mistaken check-out at 23:10 shows 1.17 h and its 06:00 check-out
 * on the night's day, where the shift is short, not on the next day, which has no shift),
 * else its own time. `lastIn`: the latest live check-in before it, paired or open.
 */
function strayAnchor(
  out: TimesheetEntry,
  lastIn: TimesheetEntry | undefined,
  maxShiftMs: number,
): number {
  const at = out.effectiveAt!;
  if (lastIn && at - lastIn.effectiveAt! <= maxShiftMs) return lastIn.effectiveAt!;
  return at;
}

function finish(
  siteId: string,
  workerId: string,
  day: string,
  d: DayDraft,
  maxShiftMs: number,
): TimesheetDay {
  // added shifts were drafted apart from the paired ones: the day lists its shifts by time
  d.shifts.sort((a, b) => a.in - b.in || a.inSeq - b.inSeq);
  // more hours than one longest shift on one day (touching shifts, added or punched): named by
  // the shift that takes the day past it
  let sum = 0;
  for (const s of d.shifts) {
    sum += s.seconds;
    if (sum * 1000 > maxShiftMs) {
      d.flags.push({ type: 'over_max_hours', seq: s.inSeq });
      break;
    }
  }
  const flags = dayFlags(d.flags);
  const closed = d.shifts.filter((s) => s.out !== undefined);
  return {
    siteId,
    workerId,
    day,
    shifts: d.shifts,
    workedSeconds: d.shifts.reduce((sum, s) => sum + s.seconds, 0),
    ...(d.shifts.length > 0 ? { firstIn: Math.min(...d.shifts.map((s) => s.in)) } : {}),
    ...(closed.length > 0 ? { lastOut: Math.max(...closed.map((s) => s.out!)) } : {}),
    flags,
    corrected: flags.some((f) => f.type === 'corrected'),
    seqs: [...d.seqs].sort((a, b) => a - b),
    packets: [...d.packets]
      .sort((a, b) => a[0] - b[0])
      .map(([seq, packetId]): [string, number] => [packetId, seq]),
  };
}

/**
 * A day's flags, each once, by seq. `corrected` is raised once a day, named by the newest
 * correction of the day's punches (every one of them is in the day's `seqs`): a flag per
 * correction repeated it on a day corrected several times.
 */
export function dayFlags(flags: DayFlag[]): DayFlag[] {
  const seen = new Map<string, DayFlag>();
  let corrected: DayFlag | undefined;
  for (const f of flags) {
    if (f.type !== 'corrected') seen.set(`${f.type}:${f.seq}:${f.detail ?? ''}`, f);
    else if (corrected === undefined || f.seq > corrected.seq) corrected = f;
  }
  if (corrected) seen.set('corrected', corrected);
  return [...seen.values()].sort((a, b) => a.seq - b.seq || (a.type < b.type ? -1 : 1));
}

/**
 * The flags that record what a supervisor already did, not something left to look at: a
 * correction, a punch voided by one, a correction voided by another. A day whose problems were
 * resolved by corrections carries only these (a stray punch voided stayed flagged forever).
 */
export const INFORMATIONAL_FLAGS: ReadonlySet<DayFlagType> = new Set<DayFlagType>([
  'corrected',
  'voided_punch',
  'voided_correction',
  'over_max_hours_acknowledged',
  'fraud_dismissed',
]);

/**
 * An `acknowledge_over_max_hours` correction as the acknowledgement rule reads it: the read
 * model's entry, with the seqs of the day it acknowledged when its ledger entry records them
 * (`CorrectionData.daySeqs`; acknowledgements appended before it was recorded have none).
 */
export type Acknowledgement = TimesheetEntry & { daySeqs?: readonly number[] };

/**
 * The acknowledgement that holds for a day's `over_max_hours` flag, if one does: the newest
 * live (not voided) `acknowledge_over_max_hours` correction of the entry the flag names, if
 * the day is still the one it acknowledged. An acknowledgement says "these hours are right"
 * of the day as it stood: a punch synced to the day later, a shift added, any correction of
 * its entries (a seq of the day above the acknowledgement's) asks for a look again, and so
 * does an entry that left the day or joined it from another (a shift moved to another day, a
 * check-out voided or moved past midnight that re-pairs the day's check-in with another one):
 * the day's seqs below the acknowledgement's must be those it recorded (`daySeqs`), or those
 * changes would leave no newer seq in the day and a day made over-long again would read
 * acknowledged. `acks`: the acknowledgements of the flag's entry (voided too), as the read
 * model holds them. Undefined when the day has no such flag.
 */
export function overMaxHoursAcknowledgement(
  day: Pick<TimesheetDay, 'flags' | 'seqs'>,
  acks: Acknowledgement[],
): Acknowledgement | undefined {
  const flag = day.flags.find((f) => f.type === 'over_max_hours');
  if (!flag) return undefined;
  const own = acks.filter(
    (a) => a.action === 'acknowledge_over_max_hours' && a.targetSeq === flag.seq,
  );
  let newest: Acknowledgement | undefined;
  for (const a of own) if (!a.voided && (!newest || a.seq > newest.seq)) newest = a;
  if (!newest) return undefined;
  const ackSeqs = new Set(own.map((a) => a.seq));
  const later = day.seqs.some((seq) => seq > newest.seq && !ackSeqs.has(seq));
  if (later) return undefined;
  if (newest.daySeqs !== undefined && !sameSeqs(day.seqs, newest.seq, newest.daySeqs)) {
    return undefined;
  }
  return newest;
}

/** Whether the day's seqs below `below` are exactly `recorded` (a set: order and repeats aside). */
function sameSeqs(seqs: readonly number[], below: number, recorded: readonly number[]): boolean {
  const now = new Set(seqs.filter((s) => s < below));
  const then = new Set(recorded);
  return now.size === then.size && [...now].every((s) => then.has(s));
}

/**
 * A day's flags with its `over_max_hours` acknowledged, when `ack` holds for it
 * (`overMaxHoursAcknowledgement`): the flag becomes `over_max_hours_acknowledged`, named by
 * the acknowledgement's seq (informational: the day is no longer flagged for it).
 */
export function acknowledgeOverMaxHours(flags: DayFlag[], ack: TimesheetEntry): DayFlag[] {
  return flags.map((f) =>
    f.type === 'over_max_hours' ? { type: 'over_max_hours_acknowledged', seq: ack.seq } : f,
  );
}

/**
 * A day is flagged when anything on it needs a look: an open shift, a stray check-out, a
 * low-trust punch that counts, an added shift overlapping another, a shift overlapping one at
 * another site, more hours than the longest shift, fraud not dismissed in review (a dismissed
 * event's flag is `fraud_dismissed`, informational), a fraud event of its punches changed
 * outside the server (`fraud_tampered`: a dismissal written into the store clears nothing). Informational flags
 * (`INFORMATIONAL_FLAGS`) alone do not flag a day.
 */
export function isFlagged(day: Pick<TimesheetDay, 'flags'>): boolean {
  return day.flags.some((f) => !INFORMATIONAL_FLAGS.has(f.type));
}
