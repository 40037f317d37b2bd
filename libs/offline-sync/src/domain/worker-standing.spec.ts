import type { WorkerEvent } from '@app/workforce';
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
  const issued = at('2026-03-01T00:00:00Z');

  it('should need the history only when the worker is inactive or a packet names a site it has not now', () => {
    const now = { siteIds: ['a', 'b'], inactive: false };
    expect(WorkerStanding.needsHistory(now, ['a', 'b', 42, undefined])).toBe(false);
    expect(WorkerStanding.needsHistory(now, ['a', 'c'])).toBe(true);
    expect(WorkerStanding.needsHistory({ ...now, inactive: true }, ['a'])).toBe(true);
  });

  it('should judge without history by the standing now', () => {
    const standing = WorkerStanding.of({ siteIds: ['a'], inactive: false });
    expect([standing.hadSite('a', issued, issued), standing.hadSite('b', issued, issued)]).toEqual([
      true,
      false,
    ]);
    expect(standing.activeAt(issued, issued)).toBe(true);
  });

  it('should judge a packet by the site changes after its token and by its own time', () => {
    // a -> b on the 3rd, b -> a, b on the 5th
    const standing = WorkerStanding.of({ siteIds: ['a', 'b'], inactive: false }, [
      event('sites_changed', '2026-03-05T00:00:00Z', ['a', 'b']),
      event('sites_changed', '2026-03-03T00:00:00Z', ['b']),
    ]);
    // recorded at a before the move: the worker's
    expect(standing.hadSite('a', at('2026-03-02T10:00:00Z'), issued)).toBe(true);
    // recorded at a between the moves, under the old token naming a: not
    expect(standing.hadSite('a', at('2026-03-04T10:00:00Z'), issued)).toBe(false);
    // at a again after the second change
    expect(standing.hadSite('a', at('2026-03-06T10:00:00Z'), issued)).toBe(true);
    // a token issued after the first move names b only; the changes before it do not count
    expect(standing.hadSite('b', at('2026-03-04T10:00:00Z'), at('2026-03-03T12:00:00Z'))).toBe(
      true,
    );
  });

  it('should take a packet recorded before a deactivation, and refuse one recorded after, until a reactivation', () => {
    const standing = WorkerStanding.of({ siteIds: ['a'], inactive: true }, [
      event('deactivated', '2026-03-03T00:00:00Z'),
      event('reactivated', '2026-03-04T00:00:00Z'),
      event('deactivated', '2026-03-06T00:00:00Z'),
    ]);
    expect(standing.inactive).toBe(true);
    expect(standing.activeAt(at('2026-03-02T23:59:59Z'), issued)).toBe(true);
    expect(standing.activeAt(at('2026-03-03T00:00:00Z'), issued)).toBe(false);
    expect(standing.activeAt(at('2026-03-05T00:00:00Z'), issued)).toBe(true);
    expect(standing.activeAt(at('2026-03-07T00:00:00Z'), issued)).toBe(false);
    // site changes do not touch the status
    expect(standing.hadSite('a', at('2026-03-07T00:00:00Z'), issued)).toBe(true);
  });
});
