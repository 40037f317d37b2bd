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
    /** Status changes, oldest first. */
    private readonly statusChanges: readonly WorkerEvent[],
    /** Site changes, oldest first. */
    private readonly siteChanges: readonly WorkerEvent[],
  ) {}

  static of(now: { inactive: boolean }, events: readonly WorkerEvent[]): WorkerStanding {
    const ordered = [...events].sort((x, y) => x.at.getTime() - y.at.getTime());
    return new WorkerStanding(
      now.inactive,
      ordered.filter((e) => e.action !== 'sites_changed'),
      ordered.filter((e) => e.action === 'sites_changed'),
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
    const before = this.siteChanges[0]?.previousSiteIds;
    return before === undefined ? undefined : before.includes(siteId);
  }

  /** Whether the worker's sites ever changed. */
  get sitesChanged(): boolean {
    return this.siteChanges.length > 0;
  }
}

/** The last of `ordered` (oldest first) at or before `atMs`. */
function lastBy(ordered: readonly WorkerEvent[], atMs: number): WorkerEvent | undefined {
  let last: WorkerEvent | undefined;
  for (const e of ordered) {
    if (e.at.getTime() > atMs) break;
    last = e;
  }
  return last;
}
