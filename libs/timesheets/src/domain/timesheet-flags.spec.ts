import { computeDays, isFlagged } from './timesheet-day';
import { resolveTree, TimesheetEntry } from './timesheet-entry';

const H = 3_600_000;

function entry(seq: number, extra: Partial<TimesheetEntry>): TimesheetEntry {
  return {
    siteId: 's',
    seq,
    workerId: 'w',
    packetId: `e${seq}`,
    kind: 'punch',
    voided: false,
    correctedBy: [],
    lowTrust: false,
    ...extra,
  };
}

const at = (iso: string) => ({ at: Date.parse(iso), effectiveAt: Date.parse(iso) });
const resolve = (tree: TimesheetEntry[]) => {
  const changed = new Map(resolveTree(tree).map((e) => [e.seq, e]));
  return tree.map((e) => changed.get(e.seq) ?? e).filter((e) => e.punchType !== undefined);
};
const dayOf = (entries: TimesheetEntry[]) =>
  computeDays('s', 'w', entries, 'Asia/Kolkata', 16 * H)[0];

describe('day flags: what needs a look, what is a record', () => {
  it('should not flag a day whose stray punch was voided (a double tap fixed)', () => {
    const inP = entry(1, { punchType: 'check_in', ...at('2026-03-05T03:30:00Z') });
    const outP = entry(2, { punchType: 'check_out', ...at('2026-03-05T12:30:00Z') });
    const stray = entry(3, { punchType: 'check_out', ...at('2026-03-05T12:31:00Z') });
    expect(isFlagged(dayOf([inP, outP, stray]))).toBe(true);
    const voiding = entry(4, { kind: 'correction', action: 'void', targetSeq: 3 });
    const day = dayOf([inP, outP, ...resolve([stray, voiding])]);
    expect(day.flags).toEqual([
      { type: 'voided_punch', seq: 3 },
      { type: 'corrected', seq: 4 },
    ]);
    expect(isFlagged(day)).toBe(false);
  });

  it('should name a voided added check-out a voided correction, not a voided punch', () => {
    const inP = entry(1, { punchType: 'check_in', ...at('2026-03-05T03:30:00Z') });
    const added = entry(2, {
      kind: 'correction',
      action: 'add_check_out',
      targetSeq: 1,
      punchType: 'check_out',
      ...at('2026-03-05T11:30:00Z'),
    });
    const voiding = entry(3, { kind: 'correction', action: 'void', targetSeq: 2 });
    const day = dayOf(resolve([inP, added, voiding]));
    expect(day.flags.map((f) => [f.type, f.seq])).toEqual([
      ['open_shift', 1],
      ['voided_correction', 2],
      ['corrected', 3],
    ]);
    // the open shift is left to look at
    expect(isFlagged(day)).toBe(true);
  });

  it('should not raise low_trust for a low-trust punch that was voided', () => {
    const doubtful = entry(1, {
      punchType: 'check_in',
      lowTrust: true,
      ...at('2026-03-05T03:30:00Z'),
    });
    expect(dayOf([doubtful]).flags.map((f) => f.type)).toEqual(['low_trust', 'open_shift']);
    const voiding = entry(2, { kind: 'correction', action: 'void', targetSeq: 1 });
    const day = dayOf(resolve([doubtful, voiding]));
    expect(day.flags.map((f) => f.type)).toEqual(['voided_punch', 'corrected']);
    expect(isFlagged(day)).toBe(false);
  });

  it('should flag a day for any flag that needs a look', () => {
    for (const type of [
      'open_shift',
      'check_out_without_check_in',
      'low_trust',
      'overlapping_shift',
      'fraud',
    ] as const) {
      expect([type, isFlagged({ flags: [{ type, seq: 1 }] })]).toEqual([type, true]);
    }
  });
});
