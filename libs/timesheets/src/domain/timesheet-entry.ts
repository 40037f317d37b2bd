import { AttendanceLog, isPacketData } from '@app/offline-sync';
import { addedPunchType, CorrectionAction, isCorrectionData } from './correction';

export type PunchType = 'check_in' | 'check_out';
/**
 * The punch type of a read-model entry: a punch's, an added check-in's or check-out's, or
 * `shift` for an add_shift correction (a check-in and its check-out in one entry, which the
 * pairing of punches never takes: `isAddedShift`).
 */
export type EntryPunchType = PunchType | 'shift';

/**
 * The read model's copy of one ledger entry that matters to timesheets: a punch, or a
 * correction. An `add_check_out` or `add_check_in` correction is itself a punch (a check-out or
 * check-in the worker forgot).
 * `effectiveAt`, `voided` and `correctedBy` are derived from the corrections in its tree.
 */
export interface TimesheetEntry {
  siteId: string;
  seq: number;
  workerId: string;
  packetId: string;
  kind: 'punch' | 'correction';
  /**
   * Set on punches and on add_check_out / add_check_in / add_shift corrections (the
   * punch-like entries).
   */
  punchType?: EntryPunchType;
  action?: CorrectionAction;
  targetSeq?: number;
  /** Epoch ms as recorded: the packet's timestamp, or the correction's `at`. */
  at?: number;
  /** Epoch ms after moves (punch-like entries; an added shift's check-in). */
  effectiveAt?: number;
  /** Epoch ms: an added shift's check-out (add_shift only; never moved). */
  outAt?: number;
  voided: boolean;
  /** Every correction (seq) in this entry's correction tree, applied or voided, ascending. */
  correctedBy: number[];
  lowTrust: boolean;
}

/** The timesheet view of a ledger link (undefined for kinds timesheets ignore). */
export function projectLink(log: AttendanceLog): TimesheetEntry | undefined {
  if (isPacketData(log.data)) {
    // one literal in the stored order: a spread of a shared base here (once per synced
    // packet) cost V8 ~40x the literal
    const at = Date.parse(log.data.timestamp);
    return {
      siteId: log.siteId,
      seq: log.seq,
      voided: false,
      correctedBy: [],
      workerId: log.data.workerId,
      packetId: log.data.packetId,
      kind: 'punch',
      punchType: log.data.type,
      at,
      effectiveAt: at,
      lowTrust: log.meta.lowTrust === true,
    };
  }
  if (isCorrectionData(log.data)) {
    const c = log.data;
    const at = c.at ? Date.parse(c.at) : undefined;
    const correction = {
      siteId: log.siteId,
      seq: log.seq,
      voided: false,
      correctedBy: [] as number[],
      workerId: c.workerId,
      packetId: c.packetId,
      kind: 'correction' as const,
      action: c.action,
      lowTrust: log.meta.lowTrust === true,
    };
    if (c.action === 'add_shift') {
      return {
        ...correction,
        punchType: 'shift',
        at,
        effectiveAt: at,
        outAt: Date.parse(c.until!),
      };
    }
    const punchType = addedPunchType(c.action);
    return {
      ...correction,
      targetSeq: c.target!.seq,
      ...(punchType ? { punchType, at, effectiveAt: at } : { at }),
    };
  }
  return undefined;
}

export function isPunchLike(e: TimesheetEntry): boolean {
  return e.punchType !== undefined;
}

/** An add_shift correction: a whole shift in one entry, paired with nothing. */
export function isAddedShift(e: TimesheetEntry): boolean {
  return e.punchType === 'shift';
}

/**
 * Applies the corrections of one tree (a punch and every correction that reaches it through
 * targets) and returns the entries whose derived state changed. Corrections only target
 * earlier entries, so walking them newest first decides each one's fate before it acts: a
 * voided correction does nothing, the newest applied move wins.
 */
export function resolveTree(tree: TimesheetEntry[]): TimesheetEntry[] {
  const bySeq = new Map(tree.map((e) => [e.seq, e]));
  const state = new Map(
    tree.map((e) => [
      e.seq,
      { voided: false, effectiveAt: e.at, moved: false, subtree: [] as number[] },
    ]),
  );
  const corrections = tree.filter((e) => e.kind === 'correction').sort((a, b) => b.seq - a.seq);
  for (const c of corrections) {
    // every ancestor's tree holds this correction
    for (let t = c.targetSeq; t !== undefined; t = bySeq.get(t)?.targetSeq) {
      state.get(t)?.subtree.push(c.seq);
    }
    if (state.get(c.seq)!.voided) continue;
    const target = state.get(c.targetSeq!);
    if (!target) continue;
    if (c.action === 'void') target.voided = true;
    else if (c.action === 'move' && !target.moved) {
      target.moved = true;
      target.effectiveAt = c.at;
    }
  }
  const changed: TimesheetEntry[] = [];
  for (const e of tree) {
    const s = state.get(e.seq)!;
    const next: TimesheetEntry = {
      ...e,
      voided: s.voided,
      correctedBy: [...s.subtree].sort((a, b) => a - b),
      ...(e.punchType ? { effectiveAt: s.effectiveAt } : {}),
    };
    if (
      next.voided !== e.voided ||
      next.effectiveAt !== e.effectiveAt ||
      next.correctedBy.join() !== e.correctedBy.join()
    ) {
      changed.push(next);
    }
  }
  return changed;
}
