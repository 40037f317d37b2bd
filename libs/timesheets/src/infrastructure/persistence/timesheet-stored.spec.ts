import { TimesheetDay } from '../../domain/timesheet-day';
import { dayFromBody, dayToBody } from './timesheet-stored';

const day: TimesheetDay = {
  siteId: 'S',
  workerId: 'w1',
  day: '2026-01-05',
  shifts: [{ inSeq: 3, in: 1_000, outSeq: 7, out: 9_000, seconds: 8 }],
  workedSeconds: 8,
  firstIn: 1_000,
  lastOut: 9_000,
  flags: [],
  corrected: false,
  seqs: [3, 7],
  packets: [
    ['packet-b', 3],
    ['packet-a', 7],
  ],
};

describe('stored timesheet days', () => {
  it('should round-trip a day, its packets as [packetId, seq] pairs', () => {
    const body = dayToBody(day);
    expect(JSON.parse(body).packets).toEqual([
      ['packet-b', 3],
      ['packet-a', 7],
    ]);
    expect(dayFromBody(body)).toEqual(day);
  });

  it('should read a day stored before the pairs (packets keyed by packet id) as pairs by seq', () => {
    const before = JSON.stringify({ ...day, packets: { 'packet-a': 7, 'packet-b': 3 } });
    expect(dayFromBody(before)).toEqual(day);
  });

  it('should read a day stored with a corrected flag per correction as one, its newest', () => {
    const corrected: TimesheetDay = {
      ...day,
      flags: [
        { type: 'low_trust', seq: 3 },
        { type: 'corrected', seq: 12 },
      ],
      corrected: true,
      seqs: [3, 7, 10, 11, 12],
    };
    const before = JSON.stringify({
      ...corrected,
      flags: [
        { type: 'low_trust', seq: 3 },
        { type: 'corrected', seq: 10 },
        { type: 'corrected', seq: 11 },
        { type: 'corrected', seq: 12 },
      ],
    });
    expect(dayFromBody(before)).toEqual(corrected);
  });
});
