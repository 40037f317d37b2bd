/**
 * How long a read model waits for an unsealed link tagged under a key id other than this
 * server's before it takes it for a forgery (review LV #9): long enough for a rolling rotation
 * of TLOG_SIGNING_KEY (replicas restarted one after another), short against a forged link.
 */
export const LINK_KEY_WAIT_MS = 10 * 60_000;

/**
 * The unsealed links read models wait for, one per site: a link past the last checkpoint
 * whose store MAC names another key id than this server's (`retired_key`). During a rolling
 * rotation that is an honest link of another replica, tagged under the key this one retired
 * or under the newer one it does not know yet: this server cannot check the tag, and the
 * link's own replica seals it (its checkpoint then vouches for it, as for every sealed link).
 * So the catch-up stops before it and tries again at its next run, for up to `waitMs` from
 * the first time it met the link (its seq and recordHash); after that the link is refused as
 * any link without a valid tag is. A link whose tag names this server's key and does not
 * verify (forged), or has none, is refused at once, as before.
 */
export class LinkKeyWaits {
  private readonly waiting = new Map<string, { seq: number; recordHash: string; since: number }>();

  constructor(private readonly waitMs = LINK_KEY_WAIT_MS) {}

  /**
   * Whether to wait for the site's link at `seq` (`first`: met now for the first time), or
   * to refuse it (`waits` false: met `waitMs` ago or more).
   */
  wait(
    siteId: string,
    seq: number,
    recordHash: string,
    now: number,
  ): { waits: boolean; first: boolean } {
    const seen = this.waiting.get(siteId);
    if (!seen || seen.seq !== seq || seen.recordHash !== recordHash) {
      this.waiting.set(siteId, { seq, recordHash, since: now });
      return { waits: true, first: true };
    }
    return { waits: now - seen.since < this.waitMs, first: false };
  }
}
