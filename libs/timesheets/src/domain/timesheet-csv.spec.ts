import { parse } from 'csv-parse/sync';
import { csvField, csvLine, csvRow } from './timesheet-csv';

describe('timesheet CSV (RFC 4180)', () => {
  it('should quote only fields that need it, doubling quotes, and end lines with CRLF', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    const line = csvLine(['x', 'a,b', 'q"q', 'l1\r\nl2']);
    expect(line.endsWith('\r\n')).toBe(true);
    expect(parse(line)).toEqual([['x', 'a,b', 'q"q', 'l1\r\nl2']]);
  });

  it('should write a worker-day as worker, date, first in, last out, hours, flags, corrected, seqs', () => {
    const row = csvRow({
      workerId: 'w1',
      date: '2026-03-02',
      firstIn: '2026-03-02T22:00:00+05:30',
      hours: 0,
      workedSeconds: 0,
      shifts: [],
      flags: [
        { type: 'open_shift', seq: 3 },
        { type: 'fraud', seq: 3, detail: 'outside_geofence' },
      ],
      flagged: true,
      corrected: false,
      seqs: [3, 9],
    });
    expect(row).toBe(
      'w1,2026-03-02,2026-03-02T22:00:00+05:30,,0.00,open_shift@3; fraud:outside_geofence@3,false,3 9\r\n',
    );
  });
});
