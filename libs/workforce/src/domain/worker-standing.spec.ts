import type { WorkerEvent } from './workforce';
import { WorkerStanding } from './worker-standing';

const at = (iso: string) => Date.parse(iso);
const event = (action: WorkerEvent['action'], iso: string, siteIds?: string[]): WorkerEvent => ({
  id: iso,
  workerId: 'w',
  action,
  actor: 'admin:x',
  at: new Date(iso),
  ...(siteIds ? { siteIds } : {}),
});

describe('WorkerStanding', () => {
  it('should take every packet of a worker that never changed (the token decides its sites)', () => {
    const standing = WorkerStanding.of({ inactive: false }, []);
    expect(standing.activeAt(at('2026-03-02T10:00:00Z'))).toBe(true);
    expect(standing.hadSite('a', at('2026-03-02T10:00:00Z'))).toBe(true);
  });

  it("should take a phone change for no status change: a worker deactivated stays so (findings M6's events)", () => {
    const standing = WorkerStanding.of({ inactive: true }, [
      event('deactivated', '2026-03-03T00:00:00Z'),
      event('phone_changed', '2026-03-04T00:00:00Z'),
    ]);
    expect(standing.activeAt(at('2026-03-02T10:00:00Z'))).toBe(true);
    expect(standing.activeAt(at('2026-03-05T10:00:00Z'))).toBe(false);
    expect(standing.sitesChanged).toBe(false);
  });

  it('should judge a packet by the last site change by its own time, whatever came after', () => {
    // a -> b on the 3rd, then a given back on the 5th
    const standing = WorkerStanding.of({ inactive: false }, [
      event('sites_changed', '2026-03-03T00:00:00Z', ['b']),
      event('sites_changed', '2026-03-05T00:00:00Z', ['a', 'b']),
    ]);
    // recorded at a before the move: the worker's (the token's sites decide)
    expect(standing.hadSite('a', at('2026-03-02T10:00:00Z'))).toBe(true);
    // recorded at a between the moves: not, though a is the worker's again now
    expect(standing.hadSite('a', at('2026-03-04T10:00:00Z'))).toBe(false);
    expect(standing.hadSite('b', at('2026-03-04T10:00:00Z'))).toBe(true);
    // at a again after the second change; the change's own instant counts
    expect(standing.hadSite('a', at('2026-03-05T00:00:00Z'))).toBe(true);
  });

  it('should judge a packet before the first site change by the sites it records before it (those the worker was created with)', () => {
    // created at a, moved to b and c on the 3rd
    const standing = WorkerStanding.of({ inactive: false }, [
      { ...event('sites_changed', '2026-03-03T00:00:00Z', ['b', 'c']), previousSiteIds: ['a'] },
    ]);
    expect(standing.hadSite('a', at('2026-03-02T10:00:00Z'))).toBe(true);
    expect(standing.hadSite('c', at('2026-03-02T10:00:00Z'))).toBe(false);
    expect(standing.siteAt('c', at('2026-03-02T10:00:00Z'))).toBe(false);
    expect(standing.hadSite('c', at('2026-03-03T00:00:00Z'))).toBe(true);
    expect(standing.hadSite('a', at('2026-03-04T00:00:00Z'))).toBe(false);
    // a first change recorded before previousSiteIds was kept: unknown before it, as before
    const old = WorkerStanding.of({ inactive: false }, [
      event('sites_changed', '2026-03-03T00:00:00Z', ['b']),
      { ...event('sites_changed', '2026-03-05T00:00:00Z', ['c']), previousSiteIds: ['b'] },
    ]);
    expect(old.siteAt('c', at('2026-03-02T10:00:00Z'))).toBeUndefined();
    expect(old.hadSite('c', at('2026-03-02T10:00:00Z'))).toBe(true);
    expect(old.hadSite('c', at('2026-03-04T00:00:00Z'))).toBe(false);
  });

  it("should follow the order the changes were recorded in when replicas' clocks disagree", () => {
    // created at a; moved to b by a replica whose clock runs 5 minutes fast, then to c a minute
    // later (true time) by another replica: the second change's `at` is before the first's
    const standing = WorkerStanding.of({ inactive: false }, [
      { ...event('sites_changed', '2026-03-03T10:05:00Z', ['b']), previousSiteIds: ['a'] },
      { ...event('sites_changed', '2026-03-03T10:01:00Z', ['c']), previousSiteIds: ['b'] },
    ]);
    // before any change: the sites the first change recorded had them (a), not b
    expect(standing.siteAt('a', at('2026-03-03T09:00:00Z'))).toBe(true);
    expect(standing.siteAt('b', at('2026-03-03T09:00:00Z'))).toBe(false);
    // after both: the last change recorded (c), the worker's sites now, not b
    expect(standing.siteAt('c', at('2026-03-03T11:00:00Z'))).toBe(true);
    expect(standing.siteAt('b', at('2026-03-03T11:00:00Z'))).toBe(false);
    // the second change takes effect no earlier than the first
    expect(standing.siteAt('a', at('2026-03-03T10:02:00Z'))).toBe(true);
  });

  it("should judge a supervisor's record of a past shift by sites given later as by those of the worker's creation, not by a site it was moved off", () => {
    const day = (d: number) => at(`2026-03-${String(d).padStart(2, '0')}T10:00:00Z`);
    // created at a; b given on the 3rd (a kept); a taken away on the 5th; a given back on the 7th
    const standing = WorkerStanding.of({ inactive: false }, [
      { ...event('sites_changed', '2026-03-03T00:00:00Z', ['a', 'b']), previousSiteIds: ['a'] },
      { ...event('sites_changed', '2026-03-05T00:00:00Z', ['b']), previousSiteIds: ['a', 'b'] },
      { ...event('sites_changed', '2026-03-07T00:00:00Z', ['a', 'b']), previousSiteIds: ['b'] },
    ]);
    const now = ['a', 'b'];
    expect(standing.backfillSiteAt('a', day(1), now)).toEqual({ kind: 'had' });
    // b before it was given: as a worker created at a and b would be (a phone's punch is not)
    expect(standing.backfillSiteAt('b', day(1), now)).toEqual({ kind: 'given_later' });
    expect(standing.hadSite('b', day(1))).toBe(false);
    expect(standing.backfillSiteAt('b', day(4), now)).toEqual({ kind: 'had' });
    // a between its removal and its return: moved off (the change that did it named)
    expect(standing.backfillSiteAt('a', day(6), now)).toEqual({
      kind: 'removed',
      atMs: at('2026-03-05T00:00:00Z'),
    });
    expect(standing.backfillSiteAt('a', day(8), now)).toEqual({ kind: 'had' });
    expect(standing.backfillSiteAt('c', day(1), now)).toEqual({ kind: 'never' });
    expect(standing.backfillSiteAt('c', day(8), now)).toEqual({ kind: 'never' });

    // no change: the sites now, before the creation too
    const unchanged = WorkerStanding.of({ inactive: false }, []);
    expect(unchanged.backfillSiteAt('a', 0, ['a'])).toEqual({ kind: 'had' });
    expect(unchanged.backfillSiteAt('b', 0, ['a'])).toEqual({ kind: 'never' });
    // a first change recorded before previousSiteIds was kept: unknown before it
    const old = WorkerStanding.of({ inactive: false }, [
      event('sites_changed', '2026-03-03T00:00:00Z', ['b']),
    ]);
    expect(old.backfillSiteAt('c', day(1), ['b'])).toEqual({ kind: 'unknown' });
    expect(old.backfillSiteAt('c', day(4), ['b'])).toEqual({ kind: 'never' });
  });

  it('should take a packet recorded before a deactivation and refuse one recorded while inactive, even after a reactivation', () => {
    const standing = WorkerStanding.of({ inactive: false }, [
      event('deactivated', '2026-03-03T00:00:00Z'),
      event('reactivated', '2026-03-04T00:00:00Z'),
      event('deactivated', '2026-03-06T00:00:00Z'),
      event('reactivated', '2026-03-07T00:00:00Z'),
    ]);
    expect(standing.activeAt(at('2026-03-02T23:59:59Z'))).toBe(true);
    expect(standing.activeAt(at('2026-03-03T00:00:00Z'))).toBe(false);
    expect(standing.activeAt(at('2026-03-03T12:00:00Z'))).toBe(false); // reactivated since
    expect(standing.activeAt(at('2026-03-05T00:00:00Z'))).toBe(true);
    expect(standing.activeAt(at('2026-03-06T12:00:00Z'))).toBe(false);
    expect(standing.activeAt(at('2026-03-08T00:00:00Z'))).toBe(true);
    // status changes do not touch the sites
    expect(standing.hadSite('a', at('2026-03-06T12:00:00Z'))).toBe(true);
  });

  it('should count a deactivation from before a token was issued (a token issued in a race with it)', () => {
    const standing = WorkerStanding.of({ inactive: true }, [
      event('deactivated', '2026-03-03T00:00:00Z'),
    ]);
    expect(standing.inactive).toBe(true);
    expect(standing.activeAt(at('2026-03-03T00:00:01Z'))).toBe(false);
  });
});
