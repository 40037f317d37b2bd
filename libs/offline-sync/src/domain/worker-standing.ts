import type { WorkerEvent } from '@app/workforce';

/**
 * What the server knows of a phone's worker when a batch arrives: its sites and status now, and
 * (read only when a packet needs it) the changes to them. A packet is judged by the worker's
 * standing when it was recorded, not when it arrives: a punch recorded at a site before the
 * worker was moved away, or before the worker was deactivated, is the worker's (offline phones
 * sync late), and one recorded after is not.
 *
 * The token bounds what needs knowing: it was issued (at `issuedAtMs`) while the worker was
 * active and at the sites it names (a refresh carries the sites of that moment and is refused
 * for an inactive worker), so only the changes after its issue and before the packet decide.
 */
export class WorkerStanding {
  private constructor(
    private readonly sites: ReadonlySet<string>,
    readonly inactive: boolean,
    /** Oldest first; undefined when no packet of the batch needed them (all as things are now). */
    private readonly events: readonly WorkerEvent[] | undefined,
  ) {}

  /** Whether the standing now tells every packet for `siteIds` (no change needs reading). */
  static needsHistory(
    now: { siteIds: readonly string[]; inactive: boolean },
    packetSiteIds: readonly unknown[],
  ): boolean {
    if (now.inactive) return true;
    const sites = new Set(now.siteIds);
    return packetSiteIds.some((siteId) => typeof siteId === 'string' && !sites.has(siteId));
  }

  static of(
    now: { siteIds: readonly string[]; inactive: boolean },
    events?: readonly WorkerEvent[],
  ): WorkerStanding {
    const ordered = events
      ? [...events].sort((x, y) => x.at.getTime() - y.at.getTime())
      : undefined;
    return new WorkerStanding(new Set(now.siteIds), now.inactive, ordered);
  }

  /** Whether the worker was active at `atMs`, under a token issued at `issuedAtMs`. */
  activeAt(atMs: number, issuedAtMs: number): boolean {
    if (!this.events) return !this.inactive;
    const last = this.lastBetween(issuedAtMs, atMs, (e) => e.action !== 'sites_changed');
    return last === undefined || last.action !== 'deactivated';
  }

  /**
   * Whether the worker had `siteId` at `atMs`, under a token issued at `issuedAtMs` that names
   * it: the last site change after the token's issue and by the packet's time decides; with
   * none, the token's sites do.
   */
  hadSite(siteId: string, atMs: number, issuedAtMs: number): boolean {
    if (!this.events) return this.sites.has(siteId);
    const last = this.lastBetween(issuedAtMs, atMs, (e) => e.action === 'sites_changed');
    return last === undefined || (last.siteIds ?? []).includes(siteId);
  }

  private lastBetween(
    afterMs: number,
    byMs: number,
    kind: (e: WorkerEvent) => boolean,
  ): WorkerEvent | undefined {
    let last: WorkerEvent | undefined;
    for (const e of this.events ?? []) {
      const at = e.at.getTime();
      if (at > byMs) break;
      if (at > afterMs && kind(e)) last = e;
    }
    return last;
  }
}
