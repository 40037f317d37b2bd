import { computeDays, shiftOverlaps } from './timesheet-day';
import { resolveTree, TimesheetEntry } from './timesheet-entry';
import { timesheetCorrection, timesheetPunch } from '../testing/timesheet-punch';

const H = 3_600_000;
let seq = 0;

function punch(type: 'check_in' | 'check_out', iso: string): TimesheetEntry {
  const at = Date.parse(iso);
  return timesheetPunch(++seq, { punchType: type, at, effectiveAt: at });
}

/** An add_shift correction as projectLink makes it. */
function shift(inIso: string, outIso: string): TimesheetEntry {
  const at = Date.parse(inIso);
  return timesheetCorrection(++seq, 'add_shift', {
    punchType: 'shift',
    at,
    effectiveAt: at,
    outAt: Date.parse(outIso),
  });
}

const days = (entries: TimesheetEntry[]) => computeDays('s', 'w', entries, 'Asia/Kolkata', 16 * H);

describe('added shifts (add_shift)', () => {
  beforeEach(() => (seq = 0));

  it('should make a shift of its own, on the day it starts, marked added and corrected', () => {
    // a night shift 21:00 → 05:00 IST recorded from the site register
    const added = shift('2026-03-02T15:30:00Z', '2026-03-02T23:30:00Z');
    const [day] = days([added]);
    expect(day).toMatchObject({
      day: '2026-03-02',
      workedSeconds: 8 * 3600,
      firstIn: Date.parse('2026-03-02T15:30:00Z'),
      lastOut: Date.parse('2026-03-02T23:30:00Z'),
      flags: [{ type: 'corrected', seq: added.seq }],
      corrected: true,
      seqs: [added.seq],
      packets: [],
    });
    expect(day.shifts).toEqual([
      {
        inSeq: added.seq,
        in: added.effectiveAt,
        outSeq: added.seq,
        out: added.outAt,
        seconds: 8 * 3600,
        added: true,
      },
    ]);
  });

  it('should pair no punch with an added shift, and list the day’s shifts by time', () => {
    const morning = shift('2026-03-02T03:30:00Z', '2026-03-02T07:30:00Z');
    const afternoon = [
      punch('check_in', '2026-03-02T08:30:00Z'),
      punch('check_out', '2026-03-02T12:30:00Z'),
    ];
    // the check-in before the shift stays open: the shift's check-out is not its partner
    const early = punch('check_in', '2026-03-02T01:30:00Z');
    const [day] = days([...afternoon, morning, early]);
    expect(day.shifts.map((s) => [s.inSeq, s.outSeq, s.seconds])).toEqual([
      [early.seq, undefined, 0],
      [morning.seq, morning.seq, 4 * 3600],
      [afternoon[0].seq, afternoon[1].seq, 4 * 3600],
    ]);
    expect(day.flags.map((f) => f.type).sort()).toEqual(['corrected', 'open_shift']);
  });

  it('should take an added shift out once voided, the void correcting its day', () => {
    const added = shift('2026-03-02T03:30:00Z', '2026-03-02T11:30:00Z');
    const voiding = timesheetCorrection(++seq, 'void', { targetSeq: added.seq });
    const resolved = new Map(resolveTree([added, voiding]).map((e) => [e.seq, e]));
    expect(resolved.get(added.seq)).toMatchObject({ voided: true, correctedBy: [voiding.seq] });
    const [day] = days([resolved.get(added.seq)!]);
    expect(day).toMatchObject({ workedSeconds: 0, shifts: [], seqs: [added.seq, voiding.seq] });
  });

  it('should find an added shift overlapping a paired shift, an open check-in, a stray check-out or another added shift', () => {
    const added = shift('2026-03-02T03:30:00Z', '2026-03-02T11:30:00Z');
    const cases: Array<[string, TimesheetEntry[], boolean]> = [
      [
        'a pair inside',
        [punch('check_in', '2026-03-02T04:00:00Z'), punch('check_out', '2026-03-02T05:00:00Z')],
        true,
      ],
      [
        'a pair around',
        [punch('check_in', '2026-03-02T02:00:00Z'), punch('check_out', '2026-03-02T12:00:00Z')],
        true,
      ],
      [
        'a pair that ends as it starts',
        [punch('check_in', '2026-03-02T01:30:00Z'), punch('check_out', '2026-03-02T03:30:00Z')],
        false,
      ],
      ['an open check-in as it starts', [punch('check_in', '2026-03-02T03:30:00Z')], true],
      ['an open check-in as it ends', [punch('check_in', '2026-03-02T11:30:00Z')], false],
      ['a stray check-out as it ends', [punch('check_out', '2026-03-02T11:30:00Z')], true],
      ['a stray check-out as it starts', [punch('check_out', '2026-03-02T03:30:00Z')], false],
      ['an added shift across', [shift('2026-03-02T10:30:00Z', '2026-03-02T13:30:00Z')], true],
      ['an added shift after', [shift('2026-03-02T11:30:00Z', '2026-03-02T13:30:00Z')], false],
    ];
    for (const [name, others, overlapping] of cases) {
      const found = shiftOverlaps([added, ...others], 16 * H);
      expect([name, found.some(([a]) => a === added.seq)]).toEqual([name, overlapping]);
    }
  });

  it('should flag the day of an added shift a punch synced later falls in, and ignore voided entries', () => {
    const added = shift('2026-03-02T03:30:00Z', '2026-03-02T11:30:00Z');
    const late = punch('check_in', '2026-03-02T05:00:00Z');
    const [day] = days([added, late]);
    expect(day.flags).toContainEqual({ type: 'overlapping_shift', seq: added.seq });
    expect(shiftOverlaps([added, { ...late, voided: true }], 16 * H)).toEqual([]);
    expect(shiftOverlaps([{ ...added, voided: true }, late], 16 * H)).toEqual([]);
  });
});
