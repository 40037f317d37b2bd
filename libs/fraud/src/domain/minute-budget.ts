/**
 * How many fraud events one instance stores per key (a type, or a device and a type) and
 * minute. Over the budget an event is counted and logged, not stored: FraudService keeps one
 * for the events that name no device (FRAUD_UNATTRIBUTED_PER_MINUTE, by type: a refused offline
 * token, token refresh or thekedar signature comes from a request anyone can send) and one for
 * those that name a device (FRAUD_DEVICE_PER_MINUTE, by device and type: one phone with a valid
 * token sending 500 garbage packets a request made 500 rows a request).
 *
 * At most `maxKeys` keys a minute are tracked (memory stays bounded whatever the keys are); an
 * event of a key past them is counted, not stored (`over`), until the next minute.
 */
export class MinuteBudget {
  private minute = -1;
  private readonly used = new Map<string, number>();

  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 100_000,
  ) {}

  /**
   * `store`: inside this minute's budget of `key`; `first_over`: the first one over it this
   * minute (log it once); `over`: further ones.
   */
  admit(key: string, nowMs: number): 'store' | 'first_over' | 'over' {
    const minute = Math.floor(nowMs / 60_000);
    if (minute !== this.minute) {
      this.minute = minute;
      this.used.clear();
    }
    const seen = this.used.get(key);
    if (seen === undefined && this.used.size >= this.maxKeys) return 'over';
    const used = seen ?? 0;
    this.used.set(key, used + 1);
    if (used < this.perMinute) return 'store';
    return used === this.perMinute ? 'first_over' : 'over';
  }

  /**
   * Gives back one `store` of `key` this minute: its event was not written (the store failed),
   * so a retry in the same minute is stored rather than counted as over the budget.
   */
  giveBack(key: string, nowMs: number): void {
    if (Math.floor(nowMs / 60_000) !== this.minute) return;
    const used = this.used.get(key);
    if (used === undefined) return;
    if (used <= 1) this.used.delete(key);
    else this.used.set(key, used - 1);
  }
}

/**
 * How many distinct ids (packet ids) one instance has seen per key (a device and a type) this
 * minute, to tell when a key first goes past `perMinute` of them: the same packet sent again in
 * the minute (a batch re-sent after a lost response) counts once. A key keeps at most
 * `perMinute` ids (then it is over, and only remembered as such); at most `maxKeys` keys a
 * minute are tracked, a key past them is never over (it is still bounded by the rows' budget).
 */
export class DistinctMinuteCount {
  private minute = -1;
  /** Per key: the ids counted (at most `perMinute`), and whether it went past them. */
  private readonly seen = new Map<string, { ids: Set<string>; over: boolean }>();

  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 10_000,
  ) {}

  /**
   * Counts `id` of `key`: `added` (a new id within `perMinute`), `first_over` (the first id past
   * them this minute, once) or `none` (seen before, over already, or a key past `maxKeys`).
   */
  count(key: string, id: string, nowMs: number): 'added' | 'first_over' | 'none' {
    const minute = Math.floor(nowMs / 60_000);
    if (minute !== this.minute) {
      this.minute = minute;
      this.seen.clear();
    }
    let state = this.seen.get(key);
    if (state === undefined) {
      if (this.seen.size >= this.maxKeys) return 'none';
      state = { ids: new Set<string>(), over: false };
      this.seen.set(key, state);
    }
    if (state.over || state.ids.has(id)) return 'none';
    if (state.ids.size < this.perMinute) {
      state.ids.add(id);
      return 'added';
    }
    state.over = true;
    return 'first_over';
  }

  /**
   * Undoes a `count` of this minute that answered `counted`: the write it was for failed (none
   * of its events stored), so the same packet sent again in the minute counts again, and a key
   * it took over is not over (the `packet_flood` that write would have stored is due again).
   * Undo a write's counts in reverse order.
   */
  giveBack(key: string, id: string, counted: 'added' | 'first_over', nowMs: number): void {
    if (Math.floor(nowMs / 60_000) !== this.minute) return;
    const state = this.seen.get(key);
    if (state === undefined) return;
    if (counted === 'first_over') state.over = false;
    else state.ids.delete(id);
  }
}
