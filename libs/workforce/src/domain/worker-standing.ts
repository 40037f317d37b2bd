import type { WorkerEvent } from './workforce';

/**
 * What the server knows of a phone's worker when a batch arrives: its status and site changes.
 * A packet is judged by the worker's standing when it was recorded, not when it arrives: a
 * punch recorded at a site before the worker was moved away, or before the worker was
 * deactivated, is the worker's (offline phones sync late), and one recorded after is not,
 * whatever happened since (a reactivation, the site given back).
 */
export class WorkerStanding {
  private constructor(
    readonly inactive: boolean,
    /** Status changes in recorded order, each with the instant it takes effect. */
    private readonly statusChanges: readonly TimedEvent[],
    /** Site changes in recorded order, each with the instant it takes effect. */
    private readonly siteChanges: readonly TimedEvent[],
  ) {}

  /**
   * `events` in the order the store recorded them (`listWorkerEvents`: a worker's changes are
   * written one after the other, each against the worker as the one before left it). Each
   * change takes effect at its `at`, but never before a change recorded earlier: `at` is the
   * clock of the replica that wrote it, and two replicas' clocks may disagree by seconds, so a
   * change written after another with an earlier `at` would otherwise come first, and the first
   * change by `at` (whose `previousSiteIds` are the worker's sites before any change) would not
   * be the first one made. With times held in recorded order, the last change is always the
   * worker's sites now, and the first change recorded tells the sites before it.
   */
  static of(now: { inactive: boolean }, events: readonly WorkerEvent[]): WorkerStanding {
    let floor = -Infinity;
    const timed = events.map((event) => {
      floor = Math.max(floor, event.at.getTime());
      return { event, atMs: floor };
    });
    return new WorkerStanding(
      now.inactive,
      timed.filter((t) => t.event.action === 'deactivated' || t.event.action === 'reactivated'),
      timed.filter((t) => t.event.action === 'sites_changed'),
    );
  }

  /** Whether the worker was active at `atMs`: the last status change by then decides. */
  activeAt(atMs: number): boolean {
    const last = lastBy(this.statusChanges, atMs);
    // a worker starts active; with no change by then it was
    return last === undefined || last.action !== 'deactivated';
  }

  /**
   * Whether the worker had `siteId` at `atMs` (`siteAt`): the last site change by then decides,
   * else the sites before the first change (`previousSiteIds`); when neither tells (no change,
   * or a first change recorded before `previousSiteIds` was kept), the sites the token names
   * (checked before: the token was issued, and recorded, with the worker's sites of its
   * issuing, and a packet is held to the token's window).
   */
  hadSite(siteId: string, atMs: number): boolean {
    return this.siteAt(siteId, atMs) ?? true;
  }

  /**
   * Whether the worker had `siteId` at `atMs` by its site changes: the last one by then
   * decides; before the first, the sites that change records it had before it (those the
   * worker was created with). Undefined when no change came by then and none came after
   * either (its sites now are those), or when the first change predates `previousSiteIds`
   * (recorded before it was kept: the sites a worker was created with are not known then).
   */
  siteAt(siteId: string, atMs: number): boolean | undefined {
    const last = lastBy(this.siteChanges, atMs);
    if (last !== undefined) return (last.siteIds ?? []).includes(siteId);
    const before = this.siteChanges[0]?.event.previousSiteIds;
    return before === undefined ? undefined : before.includes(siteId);
  }

  /**
   * How a shift a supervisor records afterwards (`add_shift`) at `siteId` at `atMs` stands
   * against the worker's site changes, `sitesNow` its sites now. Unlike a phone's punch (a live
   * claim of presence, held to the sites of its own time: `hadSite`), such a record is the
   * history the server did not have, so a site reaches back before it was given, as the sites
   * a worker was created with reach back before its creation (the backfill window bounds
   * both): a worker registered at A and B at once and one given B a minute later are one
   * case. A site it was moved off stops there. `had`: the site was the worker's then;
   * `given_later`: not yet, given by a later change and not taken away before `atMs`;
   * `removed` (with the instant of the change that took it away): the worker had it before
   * `atMs` and not at `atMs`; `never`: no change ever gave it; `unknown`: before a first change
   * recorded without `previousSiteIds` (any site, as `siteAt` leaves it).
   */
  backfillSiteAt(siteId: string, atMs: number, sitesNow: readonly string[]): BackfillSite {
    // the worker's sites before the first change, then after each change
    const sets: Array<readonly string[] | undefined> = [
      this.siteChanges.length === 0 ? sitesNow : this.siteChanges[0].event.previousSiteIds,
      ...this.siteChanges.map((t) => t.event.siteIds ?? []),
    ];
    let k = 0;
    while (k < this.siteChanges.length && this.siteChanges[k].atMs <= atMs) k++;
    const then = sets[k];
    if (then === undefined) return { kind: 'unknown' };
    if (then.includes(siteId)) return { kind: 'had' };
    for (let j = k - 1; j >= 0; j--) {
      // the last set before `atMs` that held it: the change after it took it away
      if (sets[j]?.includes(siteId)) return { kind: 'removed', atMs: this.siteChanges[j].atMs };
    }
    return sets.slice(k + 1).some((s) => s?.includes(siteId))
      ? { kind: 'given_later' }
      : { kind: 'never' };
  }

  /** Whether the worker's sites ever changed. */
  get sitesChanged(): boolean {
    return this.siteChanges.length > 0;
  }
}

/** `WorkerStanding.backfillSiteAt`'s answer. */
export type BackfillSite =
  { kind: 'had' | 'given_later' | 'never' | 'unknown' } | { kind: 'removed'; atMs: number };

/** A change and the instant it takes effect (its `at`, held to the changes recorded before it). */
interface TimedEvent {
  event: WorkerEvent;
  atMs: number;
}

/** The last change of `ordered` (recorded order, instants non-decreasing) in effect at `atMs`. */
function lastBy(ordered: readonly TimedEvent[], atMs: number): WorkerEvent | undefined {
  let last: WorkerEvent | undefined;
  for (const t of ordered) {
    if (t.atMs > atMs) break;
    last = t.event;
  }
  return last;
}
