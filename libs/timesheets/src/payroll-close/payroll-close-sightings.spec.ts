import { ManualClock } from '@app/common';
import { MAX_SIGHTINGS, Sightings, UNCONFIRMED_TIP_MS } from './payroll-close.service';

/**
 * A server's first sightings of the closes its waiting sites wait for: one more site than it
 * keeps, all within one minute, never evicts a sighting younger than the minute (a MongoDB site
 * whose head is one behind would otherwise wait, answering 409 payroll_close_raced, forever).
 */
describe('payroll closes: first sightings of waiting sites', () => {
  const clock = new ManualClock('2026-12-05T09:00:00.000Z');
  const now = () => clock.now().getTime();

  it('should keep every sighting younger than the minute when one site more than it keeps waits', () => {
    const seen = new Sightings();
    expect(seen.ageOf('tip', 'site-0', '1|t', now())).toBe(0);
    clock.advance(1_000);
    for (let i = 1; i < MAX_SIGHTINGS; i++) seen.ageOf('tip', `site-${i}`, '1|t', now());
    expect(seen.count).toBe(MAX_SIGHTINGS);
    // full of young sightings: the newest is not kept (seen now, tried again next time)
    expect(seen.ageOf('tip', `site-${MAX_SIGHTINGS}`, '1|t', now())).toBe(0);
    expect(seen.count).toBe(MAX_SIGHTINGS);
    clock.advance(UNCONFIRMED_TIP_MS - 1_000);
    // the first waiter's minute is over: not evicted within it
    expect(seen.ageOf('tip', 'site-0', '1|t', now())).toBe(UNCONFIRMED_TIP_MS);
    expect(seen.ageOf('tip', `site-${MAX_SIGHTINGS - 1}`, '1|t', now())).toBe(
      UNCONFIRMED_TIP_MS - 1_000,
    );
    // the one left out is kept once a sighting is a minute old (the oldest evicted)
    expect(seen.ageOf('tip', `site-${MAX_SIGHTINGS}`, '1|t', now())).toBe(0);
    clock.advance(UNCONFIRMED_TIP_MS);
    expect(seen.ageOf('tip', `site-${MAX_SIGHTINGS}`, '1|t', now())).toBe(UNCONFIRMED_TIP_MS);
  });

  it('should forget a site once it waits no more, and count a new close from its own sight', () => {
    const seen = new Sightings();
    seen.ageOf('tip', 'a', '1|t', now());
    seen.ageOf('unlinked', 'a', '2026-09-01', now());
    seen.ageOf('unlinked', 'a', '2026-10-01', now());
    clock.advance(5_000);
    expect(seen.ageOf('tip', 'a', '2|u', now())).toBe(0);
    expect(seen.count).toBe(3);
    seen.forget('tip', 'a');
    expect(seen.count).toBe(2);
    seen.forget('unlinked', 'a');
    expect(seen.count).toBe(0);
  });

  it("should keep a sighting whose site's last entry the eviction took (its room not lost)", () => {
    const seen = new Sightings(2);
    seen.ageOf('unlinked', 'a', 'd1', now());
    seen.ageOf('tip', 'b', 'x', now());
    clock.advance(UNCONFIRMED_TIP_MS + 1_000);
    // full: a's sighting (the oldest, a minute old) is evicted for a's own new one
    expect(seen.ageOf('tip', 'a', 'y', now())).toBe(0);
    clock.advance(5_000);
    expect(seen.ageOf('tip', 'a', 'y', now())).toBe(5_000);
    expect(seen.count).toBe(2);
  });

  it('should refuse a sighting while full of young ones without reading the entries kept (an age queue, not a scan)', () => {
    const seen = new Sightings();
    for (let i = 0; i < MAX_SIGHTINGS; i++) seen.ageOf('tip', `site-${i}`, '1|t', now());
    // the steps of every Map and Set iterator while one sighting is refused: the old eviction
    // read each of the 10,000 entries (and sites) for the oldest a minute old
    const protos = [new Map().values(), new Set().values()].map((it) => Object.getPrototypeOf(it));
    const spies = protos.map((proto) => jest.spyOn(proto, 'next'));
    try {
      expect(seen.ageOf('tip', 'one-too-many', '1|t', now())).toBe(0);
      const steps = spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0);
      expect(steps).toBeLessThanOrEqual(2);
    } finally {
      spies.forEach((spy) => spy.mockRestore());
    }
    expect(seen.count).toBe(MAX_SIGHTINGS);
    // a minute on, the oldest makes room, and each refused one after it the next in age
    clock.advance(UNCONFIRMED_TIP_MS);
    expect(seen.ageOf('tip', 'one-too-many', '1|t', now())).toBe(0);
    expect(seen.ageOf('tip', 'site-0', '1|t', now())).toBe(0);
    expect(seen.ageOf('tip', 'site-2', '1|t', now())).toBe(UNCONFIRMED_TIP_MS);
    expect(seen.count).toBe(MAX_SIGHTINGS);
  });
});
