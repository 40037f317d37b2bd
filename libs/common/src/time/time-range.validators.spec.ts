import { IsOptional, validateSync } from '../validation/validators';
import {
  invertedRangeOnly,
  isBoundedDay,
  isCalendarDay,
  IsDay,
  IsInstant,
  isInstant,
  NotBefore,
} from './time-range.validators';

class Days {
  @IsDay() from!: string;
  @IsDay() @NotBefore('from') to!: string;
}

class Instants {
  @IsOptional() @IsInstant() from?: string;
  @IsOptional() @IsInstant() @NotBefore('from') to?: string;
}

const check = <T extends object>(Ctor: new () => T, values: Partial<T>) =>
  validateSync(Object.assign(new Ctor(), values));

describe('time range validators', () => {
  it('should take only calendar days as days', () => {
    expect(isCalendarDay('2028-02-29')).toBe(true);
    for (const bad of [
      '2026-02-29',
      '2026-13-01',
      '2026-00-10',
      '2026-3-1',
      '2026-03-01T00:00Z',
      7,
    ]) {
      expect(isCalendarDay(bad)).toBe(false);
    }
  });

  it('should take as a period day only the days from 1970-01-01 to 9998-12-31', () => {
    for (const ok of ['1970-01-01', '2026-12-07', '9998-12-31'])
      expect(isBoundedDay(ok)).toBe(true);
    for (const bad of ['1969-12-31', '9999-01-01', '9999-12-31', '0000-01-01', '0001-01-01']) {
      expect(isBoundedDay(bad)).toBe(false);
    }
  });

  it('should take a day or a date-time with a zone as an instant, nothing the server would guess', () => {
    for (const ok of [
      '2026-03-01',
      '2026-03-01T10:00Z',
      '2026-03-01T10:00:59.123Z',
      '2026-03-01T23:59:59+05:30',
      '2026-03-01T00:00:00-04:00',
    ]) {
      expect(isInstant(ok)).toBe(true);
    }
    for (const bad of [
      '2026-03-01T10:00:00', // no zone: the server's
      '2026-W10',
      '2026-060',
      '2026-03',
      '20260301',
      '2026-02-30T10:00Z',
      '2026-03-01T24:00:00Z',
      '2026-03-01T10:60Z',
      '2026-03-01T10:00:00+0530',
      '',
    ]) {
      expect(isInstant(bad)).toBe(false);
    }
  });

  it('should refuse an end before its start, by the instants they name', () => {
    expect(check(Days, { from: '2026-03-01', to: '2026-03-01' })).toEqual([]);
    const inverted = check(Days, { from: '2026-03-02', to: '2026-03-01' });
    expect(inverted.map((e) => [e.property, Object.keys(e.constraints ?? {})])).toEqual([
      ['to', ['notBefore']],
    ]);
    expect(invertedRangeOnly(inverted)).toBe(true);
    // 10:00 at +05:30 is 04:30Z, before 05:00Z
    expect(
      invertedRangeOnly(
        check(Instants, { from: '2026-03-01T05:00Z', to: '2026-03-01T10:00+05:30' }),
      ),
    ).toBe(true);
    expect(check(Instants, { from: '2026-03-01', to: '2026-03-01T00:00Z' })).toEqual([]);
    expect(check(Instants, { to: '2020-01-01' })).toEqual([]);
  });

  it('should leave the order of a malformed bound unjudged, and not call that an inverted range', () => {
    const errors = check(Days, { from: '2026-03-10', to: '2026-3-1' });
    expect(errors.map((e) => Object.keys(e.constraints ?? {}))).toEqual([['isDay']]);
    expect(invertedRangeOnly(errors)).toBe(false);
    expect(invertedRangeOnly([])).toBe(false);
  });
});
