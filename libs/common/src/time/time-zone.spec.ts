import {
  canonicalTimeZone,
  daysBetween,
  isLegacyTimeZone,
  isValidTimeZone,
  localDay,
  localIso,
  nextDay,
  startOfLocalDay,
  storedTimeZone,
  zoneOffsetMs,
} from './time-zone';

describe('time-zone', () => {
  it('should spell a zone canonically: UTC for its aliases, a link as its zone, a name as IANA spells it', () => {
    for (const [typed, canonical] of [
      ['utc', 'UTC'],
      ['Etc/UTC', 'UTC'],
      ['GMT', 'UTC'],
      ['Etc/GMT+0', 'UTC'],
      ['US/Eastern', 'America/New_York'],
      ['Japan', 'Asia/Tokyo'],
      ['america/new_york', 'America/New_York'],
      ['Asia/Kolkata', 'Asia/Kolkata'],
      ['asia/kolkata', 'Asia/Kolkata'],
      ['Asia/Calcutta', 'Asia/Kolkata'],
      ['Europe/Kiev', 'Europe/Kyiv'],
      ['Pacific/Truk', 'Pacific/Chuuk'],
      ['America/Godthab', 'America/Nuuk'],
      ['europe/kyiv', 'Europe/Kyiv'],
      ['Australia/Lord_Howe', 'Australia/Lord_Howe'],
    ]) {
      expect([typed, canonicalTimeZone(typed)]).toEqual([typed, canonical]);
    }
  });

  it("should spell its first zone (the boot's site default) without a formatter per listed zone", () => {
    // before: one Intl formatter built for each of the ~420 zones Intl lists (~20 MiB of RSS
    // kept and ~100 ms of every boot); now only the renamed zones' (one each) and the name's own
    let fresh!: typeof import('./time-zone');
    jest.isolateModules(() => {
      fresh = jest.requireActual<typeof import('./time-zone')>('./time-zone');
    });
    const built = jest.spyOn(Intl, 'DateTimeFormat');
    try {
      expect(fresh.canonicalTimeZone('Asia/Kolkata')).toBe('Asia/Kolkata');
      expect(built.mock.calls.length).toBeLessThanOrEqual(25);
      expect(fresh.canonicalTimeZone('asia/ho_chi_minh')).toBe('Asia/Ho_Chi_Minh');
      expect(fresh.canonicalTimeZone('Asia/Saigon')).toBe('Asia/Ho_Chi_Minh');
      expect(fresh.canonicalTimeZone('europe/oslo')).toBe('Europe/Oslo');
    } finally {
      built.mockRestore();
    }
  });

  it("should spell the boot's default zone and UTC with one formatter each, and the others as before after them", () => {
    // the boot's site default (Asia/Kolkata) and UTC are spelled without asking ICU about the
    // 19 renamed zones; a zone named otherwise (an old name, an alias) still finds its current
    // name once the tables are built on its first call
    let fresh!: typeof import('./time-zone');
    jest.isolateModules(() => {
      fresh = jest.requireActual<typeof import('./time-zone')>('./time-zone');
    });
    const built = jest.spyOn(Intl, 'DateTimeFormat');
    const listed = jest.spyOn(Intl, 'supportedValuesOf');
    try {
      expect(fresh.canonicalTimeZone('Asia/Kolkata')).toBe('Asia/Kolkata');
      expect(fresh.canonicalTimeZone('etc/utc')).toBe('UTC');
      expect(fresh.canonicalTimeZone('europe/KYIV')).toBe('Europe/Kyiv');
      expect(built.mock.calls.length).toBe(3);
      expect(listed).not.toHaveBeenCalled();
      expect(fresh.canonicalTimeZone('Asia/Calcutta')).toBe('Asia/Kolkata');
      expect(fresh.canonicalTimeZone('Europe/Kiev')).toBe('Europe/Kyiv');
      expect(fresh.canonicalTimeZone('US/Eastern')).toBe('America/New_York');
      expect(fresh.canonicalTimeZone('america/argentina/buenos_aires')).toBe(
        'America/Argentina/Buenos_Aires',
      );
      expect(fresh.canonicalTimeZone('America/Buenos_Aires')).toBe(
        'America/Argentina/Buenos_Aires',
      );
      expect(() => fresh.canonicalTimeZone('Mars/Olympus_Mons')).toThrow(RangeError);
    } finally {
      built.mockRestore();
      listed.mockRestore();
    }
  });

  it('should call fixed-offset and old rule-based ids legacy, and not UTC or a region', () => {
    for (const zone of ['EST', 'est', 'MST', 'HST', 'EST5EDT', 'CST6CDT', 'MST7MDT', 'PST8PDT']) {
      expect([zone, isLegacyTimeZone(zone)]).toEqual([zone, true]);
    }
    for (const zone of ['CET', 'MET', 'EET', 'WET', 'Etc/GMT+5', 'Etc/GMT-14', '+05:30']) {
      expect([zone, isLegacyTimeZone(zone)]).toEqual([zone, true]);
    }
    for (const zone of ['UTC', 'Etc/UTC', 'Etc/GMT', 'Etc/GMT-0', 'America/New_York', 'Japan']) {
      expect([zone, isLegacyTimeZone(zone)]).toEqual([zone, false]);
    }
  });

  it('should accept IANA zones and refuse anything else', () => {
    expect(isValidTimeZone('Asia/Kolkata')).toBe(true);
    expect(isValidTimeZone('America/New_York')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
    expect(isValidTimeZone(5)).toBe(false);
  });

  it('should build a formatter for a valid zone once, and ask again for a name it refused', () => {
    // a sync reads its site's zone with every batch (storedTimeZone): each formatter ~0.2 ms
    expect(storedTimeZone('Pacific/Chatham')).toBe('Pacific/Chatham');
    expect(isValidTimeZone('Mars/Phobos')).toBe(false);
    const built = jest.spyOn(Intl, 'DateTimeFormat');
    try {
      for (let i = 0; i < 3; i++) {
        expect(isValidTimeZone('Pacific/Chatham')).toBe(true);
        expect(storedTimeZone('Pacific/Chatham')).toBe('Pacific/Chatham');
      }
      expect(built).not.toHaveBeenCalled();
      expect(isValidTimeZone('Mars/Phobos')).toBe(false);
      expect(built).toHaveBeenCalledTimes(1);
    } finally {
      built.mockRestore();
    }
  });

  it('should keep caching zones after 1000 spellings of one were asked (case variants)', () => {
    // Intl takes any letter case: 1100 spellings of one zone, each valid
    const letters = [...'pacific/chatham'];
    for (let bits = 0; bits < 1100; bits++) {
      let i = 0;
      const variant = letters
        .map((c) => (/[a-z]/.test(c) && (bits >> i++) % 2 === 1 ? c.toUpperCase() : c))
        .join('');
      expect([variant, isValidTimeZone(variant)]).toEqual([variant, true]);
      expect(canonicalTimeZone(variant)).toBe('Pacific/Chatham');
    }
    expect(isValidTimeZone('Europe/Oslo')).toBe(true);
    expect(canonicalTimeZone('Europe/Oslo')).toBe('Europe/Oslo');
    const built = jest.spyOn(Intl, 'DateTimeFormat');
    try {
      // before: the cache, full of spellings, took no more and Europe/Oslo was asked every time
      expect(isValidTimeZone('Europe/Oslo')).toBe(true);
      expect(isValidTimeZone('EUROPE/OSLO')).toBe(true);
      expect(canonicalTimeZone('Europe/Oslo')).toBe('Europe/Oslo');
      expect(built).not.toHaveBeenCalled();
    } finally {
      built.mockRestore();
    }
  });

  it('should give the local day of an instant on both sides of UTC midnight', () => {
    const at = Date.parse('2026-03-01T20:00:00Z');
    expect(localDay(at, 'UTC')).toBe('2026-03-01');
    expect(localDay(at, 'Asia/Kolkata')).toBe('2026-03-02'); // 01:30 IST
    expect(localDay(at, 'America/Los_Angeles')).toBe('2026-03-01');
  });

  it('should find local midnight across a daylight-saving change', () => {
    // New York springs forward on 2026-03-08 (EST -5 → EDT -4)
    expect(new Date(startOfLocalDay('2026-03-08', 'America/New_York')).toISOString()).toBe(
      '2026-03-08T05:00:00.000Z',
    );
    expect(new Date(startOfLocalDay('2026-03-09', 'America/New_York')).toISOString()).toBe(
      '2026-03-09T04:00:00.000Z',
    );
    expect(
      startOfLocalDay('2026-03-09', 'America/New_York') -
        startOfLocalDay('2026-03-08', 'America/New_York'),
    ).toBe(23 * 3_600_000);
    expect(new Date(startOfLocalDay('2026-03-02', 'Asia/Kolkata')).toISOString()).toBe(
      '2026-03-01T18:30:00.000Z',
    );
  });

  it('should start a day whose midnight does not exist at its first instant', () => {
    // Santiago springs forward at 00:00 → 01:00 on 2026-09-06
    const start = startOfLocalDay('2026-09-06', 'America/Santiago');
    expect(localDay(start, 'America/Santiago')).toBe('2026-09-06');
    expect(localDay(start - 1, 'America/Santiago')).toBe('2026-09-05');
  });

  it('should print local times with their offset', () => {
    expect(zoneOffsetMs(Date.parse('2026-03-01T00:00:00Z'), 'Asia/Kolkata')).toBe(19_800_000);
    expect(localIso(Date.parse('2026-03-08T12:30:00Z'), 'America/New_York')).toBe(
      '2026-03-08T08:30:00-04:00',
    );
    expect(localIso(Date.parse('2026-03-01T03:30:00Z'), 'Asia/Kolkata')).toBe(
      '2026-03-01T09:00:00+05:30',
    );
  });

  it('should print a local mean time offset to the second (Monrovia −0:44:30 until 1972)', () => {
    expect(localIso(Date.parse('1971-06-01T00:20:00Z'), 'Africa/Monrovia')).toBe(
      '1971-05-31T23:35:30-00:44:30',
    );
  });

  it('should find offsets that change inside a quarter hour (Monrovia at 00:44:30 UTC)', () => {
    // the quarter 00:30–00:45 starts at −0:44:30 and ends at +0:00: read before and after
    const before = Date.parse('1972-01-07T00:44:29Z');
    const after = Date.parse('1972-01-07T00:44:31Z');
    expect(zoneOffsetMs(before, 'Africa/Monrovia')).toBe(-2_670_000);
    expect(zoneOffsetMs(after, 'Africa/Monrovia')).toBe(0);
    expect(localIso(after, 'Africa/Monrovia')).toBe('1972-01-07T00:44:31+00:00');
  });

  it('should read the minutes after a transition at hh:01 exactly (Goose Bay, 2010)', () => {
    // 00:01 local daylight time (−03:00) became 23:01 standard time (−04:00) at 03:01 UTC on
    // 7 November 2010: the quarter from 03:00 UTC holds both
    const at = Date.parse('2010-11-07T03:05:00Z');
    expect(localIso(at, 'America/Goose_Bay')).toBe('2010-11-06T23:05:00-04:00');
    expect(localDay(at, 'America/Goose_Bay')).toBe('2010-11-06');
  });

  it('should find the offset of the first centuries and across New Year', () => {
    expect(localIso(Date.parse('0050-06-01T12:00:00Z'), 'Asia/Kolkata')).toBe(
      '0050-06-01T17:53:28+05:53:28',
    );
    expect(localIso(Date.parse('2026-12-31T20:00:00Z'), 'Asia/Kolkata')).toBe(
      '2027-01-01T01:30:00+05:30',
    );
    expect(localIso(Date.parse('2027-01-01T03:00:00Z'), 'America/New_York')).toBe(
      '2026-12-31T22:00:00-05:00',
    );
  });

  it('should step calendar days', () => {
    expect(nextDay('2026-02-28')).toBe('2026-03-01');
    expect(nextDay('2026-03-01', -1)).toBe('2026-02-28');
    expect(daysBetween('2026-03-01', '2026-05-02')).toBe(62);
  });
});

describe('localDay before 1970', () => {
  it('should agree with Date for fractional instants, in either order', () => {
    expect(localDay(-86_400_000.5, 'UTC')).toBe('1969-12-31');
    expect(localDay(-86_400_001, 'UTC')).toBe('1969-12-30');
    expect(localDay(-86_400_000.5, 'UTC')).toBe('1969-12-31');
  });
});
