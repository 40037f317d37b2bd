import {
  acknowledgeOverMaxHours,
  computeDays,
  isFlagged,
  overMaxHoursAcknowledgement,
} from './timesheet-day';
import { resolveTree, TimesheetEntry } from './timesheet-entry';
import { timesheetCorrection, timesheetPunch } from '../testing/timesheet-punch';

const H = 3_600_000;

const at = (iso: string) => ({ at: Date.parse(iso), effectiveAt: Date.parse(iso) });
const resolve = (tree: TimesheetEntry[]) => {
  const changed = new Map(resolveTree(tree).map((e) => [e.seq, e]));
  return tree.map((e) => changed.get(e.seq) ?? e).filter((e) => e.punchType !== undefined);
};
const dayOf = (entries: TimesheetEntry[]) =>
  computeDays('s', 'w', entries, 'Asia/Kolkata', 16 * H)[0];

describe('day flags: what needs a look, what is a record', () => {
  it('should not flag a day whose stray punch was voided (a double tap fixed)', () => {
    const inP = timesheetPunch(1, { punchType: 'check_in', ...at('2026-03-05T03:30:00Z') });
    const outP = timesheetPunch(2, { punchType: 'check_out', ...at('2026-03-05T12:30:00Z') });
    const stray = timesheetPunch(3, { punchType: 'check_out', ...at('2026-03-05T12:31:00Z') });
    expect(isFlagged(dayOf([inP, outP, stray]))).toBe(true);
    const voiding = timesheetCorrection(4, 'void', { targetSeq: 3 });
    const day = dayOf([inP, outP, ...resolve([stray, voiding])]);
    expect(day.flags).toEqual([
      { type: 'voided_punch', seq: 3 },
      { type: 'corrected', seq: 4 },
    ]);
    expect(isFlagged(day)).toBe(false);
  });

  it('should name a voided added check-out a voided correction, not a voided punch', () => {
    const inP = timesheetPunch(1, { punchType: 'check_in', ...at('2026-03-05T03:30:00Z') });
    const added = timesheetCorrection(2, 'add_check_out', {
      targetSeq: 1,
      punchType: 'check_out',
      ...at('2026-03-05T11:30:00Z'),
    });
    const voiding = timesheetCorrection(3, 'void', { targetSeq: 2 });
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
    const doubtful = timesheetPunch(1, {
      punchType: 'check_in',
      lowTrust: true,
      ...at('2026-03-05T03:30:00Z'),
    });
    expect(dayOf([doubtful]).flags.map((f) => f.type)).toEqual(['low_trust', 'open_shift']);
    const voiding = timesheetCorrection(2, 'void', { targetSeq: 1 });
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
      'overlaps_other_site',
      'over_max_hours',
      'fraud',
    ] as const) {
      expect([type, isFlagged({ flags: [{ type, seq: 1 }] })]).toEqual([type, true]);
    }
  });
});

describe('day flags: a shift at another site at the same time, a day past the longest shift', () => {
  const days = (entries: TimesheetEntry[], others: TimesheetEntry[]) =>
    computeDays('s', 'w', entries, 'UTC', 16 * H, others);
  const p = (seq: number, type: 'check_in' | 'check_out', iso: string, site = 's') =>
    timesheetPunch(seq, { siteId: site, punchType: type, ...at(iso) });

  it("should flag a shift overlapping the worker's shift at another site, naming that site", () => {
    const own = [
      p(1, 'check_in', '2026-03-02T18:00:00Z'),
      p(3, 'check_out', '2026-03-03T01:00:00Z'),
    ];
    const other = [
      p(2, 'check_in', '2026-03-02T19:00:00Z', 't'),
      p(4, 'check_out', '2026-03-03T02:00:00Z', 't'),
    ];
    const [day] = days(own, other);
    expect(day.workedSeconds).toBe(7 * 3600);
    expect(day.flags).toEqual([{ type: 'overlaps_other_site', seq: 1, detail: 't' }]);
    expect(isFlagged(day)).toBe(true);
    // the other side, computed from its own site
    expect(days(other, own)[0].flags).toEqual([
      { type: 'overlaps_other_site', seq: 2, detail: 's' },
    ]);
    expect(days(own, [])[0].flags).toEqual([]);
  });

  it("should pair each site's punches apart, let shifts touch, and match an open check-in inside a shift", () => {
    const own = [
      p(1, 'check_in', '2026-03-02T06:00:00Z'),
      p(2, 'check_out', '2026-03-02T10:00:00Z'),
    ];
    // a check-in at t closed by nothing there (a check-out at s does not close it)
    const touching = [
      p(3, 'check_in', '2026-03-02T10:00:00Z', 't'),
      p(4, 'check_out', '2026-03-02T14:00:00Z', 't'),
    ];
    expect(days(own, touching)[0].flags).toEqual([]);
    const inside = [p(5, 'check_in', '2026-03-02T08:00:00Z', 't')];
    expect(days(own, inside)[0].flags).toEqual([
      { type: 'overlaps_other_site', seq: 1, detail: 't' },
    ]);
    expect(days(inside, own)[0].flags).toEqual([
      { type: 'open_shift', seq: 5 },
      { type: 'overlaps_other_site', seq: 5, detail: 's' },
    ]);
    // voided at the other site: no overlap
    expect(days(own, [{ ...inside[0], voided: true }])[0].flags).toEqual([]);
    // two sites overlapping: a flag for each
    const third = [
      p(6, 'check_in', '2026-03-02T07:00:00Z', 'u'),
      p(7, 'check_out', '2026-03-02T09:00:00Z', 'u'),
    ];
    expect(days(own, [...inside, ...third])[0].flags).toEqual([
      { type: 'overlaps_other_site', seq: 1, detail: 't' },
      { type: 'overlaps_other_site', seq: 1, detail: 'u' },
    ]);
  });

  it('should flag a day whose shifts add up past the longest shift, named by the shift that passes it', () => {
    const shift = (seq: number, from: string, to: string) =>
      timesheetCorrection(seq, 'add_shift', {
        punchType: 'shift',
        ...at(from),
        outAt: Date.parse(to),
      });
    const day = days(
      [
        shift(1, '2026-03-02T00:00:00Z', '2026-03-02T08:00:00Z'),
        shift(2, '2026-03-02T08:00:00Z', '2026-03-02T16:00:00Z'),
        shift(3, '2026-03-02T16:00:00Z', '2026-03-03T00:00:00Z'),
      ],
      [],
    )[0];
    expect(day.workedSeconds).toBe(24 * 3600);
    expect(day.flags).toEqual([
      { type: 'corrected', seq: 3 },
      { type: 'over_max_hours', seq: 3 },
    ]);
    expect(isFlagged(day)).toBe(true);
    // 16 h exactly is the longest shift: not past it
    const sixteen = days(
      [
        shift(1, '2026-03-02T00:00:00Z', '2026-03-02T08:00:00Z'),
        shift(2, '2026-03-02T08:00:00Z', '2026-03-02T16:00:00Z'),
      ],
      [],
    )[0];
    expect(sixteen.flags).toEqual([{ type: 'corrected', seq: 2 }]);
  });
});

describe('an acknowledged day past the longest shift', () => {
  // a double shift: 12 h, then 13 h (25 h), named by the second check-in (seq 3)
  const shifts = [
    timesheetPunch(1, { punchType: 'check_in', ...at('2026-03-05T00:00:00Z') }),
    timesheetPunch(2, { punchType: 'check_out', ...at('2026-03-05T12:00:00Z') }),
    timesheetPunch(3, { punchType: 'check_in', ...at('2026-03-05T12:30:00Z') }),
    timesheetPunch(4, { punchType: 'check_out', ...at('2026-03-06T01:30:00Z') }),
  ];
  const day = computeDays('s', 'w', shifts, 'UTC', 16 * H)[0];
  const ack = (seq: number, extra: Partial<TimesheetEntry> = {}) =>
    timesheetCorrection(seq, 'acknowledge_over_max_hours', {
      targetSeq: 3,
      ...extra,
    });
  const withSeqs = (...seqs: number[]) => ({ ...day, seqs: [...day.seqs, ...seqs] });

  it('should hold the newest live acknowledgement of the flagged shift while nothing of the day is newer', () => {
    expect(day.flags).toEqual([{ type: 'over_max_hours', seq: 3 }]);
    expect(overMaxHoursAcknowledgement(withSeqs(5), [ack(5)])?.seq).toBe(5);
    const flags = acknowledgeOverMaxHours(day.flags, ack(5));
    expect(flags).toEqual([{ type: 'over_max_hours_acknowledged', seq: 5 }]);
    expect(isFlagged({ flags })).toBe(false);
    // a voided one, and a newer one after it
    expect(overMaxHoursAcknowledgement(withSeqs(5), [ack(5, { voided: true })])).toBeUndefined();
    expect(
      overMaxHoursAcknowledgement(withSeqs(5, 6, 7), [ack(5, { voided: true }), ack(7)])?.seq,
    ).toBe(7);
  });

  it('should not hold for another shift, another action, or a day changed after it', () => {
    expect(overMaxHoursAcknowledgement(withSeqs(5), [ack(5, { targetSeq: 1 })])).toBeUndefined();
    expect(overMaxHoursAcknowledgement(withSeqs(5), [ack(5, { action: 'void' })])).toBeUndefined();
    // a punch (or a correction) of the day after the acknowledgement
    expect(overMaxHoursAcknowledgement(withSeqs(5, 6), [ack(5)])).toBeUndefined();
    // a day without the flag has nothing to acknowledge
    expect(overMaxHoursAcknowledgement({ flags: [], seqs: [1, 2, 5] }, [ack(5)])).toBeUndefined();
  });

  it('should not hold once an entry left the day or joined it with an older seq (the day it recorded)', () => {
    const recorded = (extra: Partial<TimesheetEntry> = {}) => ({
      ...ack(5, extra),
      daySeqs: [1, 2, 3, 4],
    });
    expect(overMaxHoursAcknowledgement(withSeqs(5), [recorded()])?.seq).toBe(5);
    // the first shift moved to another day (its seqs, and the move's, are that day's now)
    const left = { ...day, seqs: [3, 4, 5] };
    expect(overMaxHoursAcknowledgement(left, [recorded()])).toBeUndefined();
    // the check-out voided past midnight, the check-in paired with an older stray one (seq 0)
    const repaired = { ...day, seqs: [0, 1, 2, 3, 5] };
    expect(overMaxHoursAcknowledgement(repaired, [recorded()])).toBeUndefined();
    // an acknowledgement appended before the day was recorded keeps the newer-seq rule alone
    expect(overMaxHoursAcknowledgement(left, [ack(5)])?.seq).toBe(5);
  });
});
