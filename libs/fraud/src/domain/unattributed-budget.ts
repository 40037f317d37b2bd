/**
 * How many fraud events that name no device one instance stores per type and minute. Such an
 * event (a refused offline token, token refresh or thekedar signature) comes from a request
 * anyone can send without a credential, so an unbounded count would let anyone fill the fraud
 * log. Over the budget an event is counted and logged, not stored.
 */
export class UnattributedBudget {
  private minute = -1;
  private readonly used = new Map<string, number>();

  constructor(private readonly perMinute: number) {}

  /**
   * `store`: inside this minute's budget of `type`; `first_over`: the first one over it this
   * minute (log it once); `over`: further ones.
   */
  admit(type: string, nowMs: number): 'store' | 'first_over' | 'over' {
    const minute = Math.floor(nowMs / 60_000);
    if (minute !== this.minute) {
      this.minute = minute;
      this.used.clear();
    }
    const used = this.used.get(type) ?? 0;
    this.used.set(type, used + 1);
    if (used < this.perMinute) return 'store';
    return used === this.perMinute ? 'first_over' : 'over';
  }
}
