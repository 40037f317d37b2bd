/**
 * How long a read model waits for an unsealed link tagged under a store-MAC key id this server
 * does not hold before it takes it for a forgery (review LV #9): long enough for a one-step
 * rotation of STORE_MAC_KEY (replicas restarted one after another, the new key's links read by
 * a replica still on the old one), short against a forged link.
 */
export const LINK_KEY_WAIT_MS = 10 * 60_000;

/**
 * The unsealed links read models wait for, one per site: a link past the last checkpoint
 * whose store MAC names a key id this server does not hold (`retired_key`). During a rolling
 * rotation of STORE_MAC_KEY that is an honest link of a replica already on the newer key: this
 * server cannot check the tag, and the link's own replica seals it (its checkpoint then vouches
 * for it, as for every sealed link). So the catch-up stops before it and tries again at its
 * next run, for up to `waitMs` from the first time it met the site's link at that seq (rewriting
 * the link, its recordHash or its tag, does not start the wait again); after that the link is
 * refused as any link without a valid tag is, until a read goes past that seq (the link sealed
 * or removed: `passed`, which ends the entry, so the map holds at most one entry per site with
 * a link waited for or refused). A link whose tag names no key id, or names this server's key
 * and does not verify (forged), or has none, is refused at once. The wait is in the process:
 * a restart starts it again (docs/architecture.md, "Known gaps after review LV", #9).
 */
export class LinkKeyWaits {
  private readonly waiting = new Map<string, { seq: number; since: number }>();

  constructor(private readonly waitMs = LINK_KEY_WAIT_MS) {}

  /**
   * Whether to wait for the site's link at `seq` (`first`: met now for the first time), or
   * to refuse it (`waits` false: met `waitMs` ago or more).
   */
  wait(siteId: string, seq: number, now: number): { waits: boolean; first: boolean } {
    const seen = this.waiting.get(siteId);
    if (!seen || seen.seq !== seq) {
      this.waiting.set(siteId, { seq, since: now });
      return { waits: true, first: true };
    }
    return { waits: now - seen.since < this.waitMs, first: false };
  }

  /** A read of the site's chain went up to `seq`: a wait at or below it is over. */
  passed(siteId: string, seq: number): void {
    const seen = this.waiting.get(siteId);
    if (seen && seen.seq <= seq) this.waiting.delete(siteId);
  }

  /** How many sites have a link waited for or refused (bounded by the sites). */
  get size(): number {
    return this.waiting.size;
  }
}
