import { DistinctMinuteCount, MinuteBudget } from './minute-budget';

describe('MinuteBudget', () => {
  it('should store a key up to its budget each minute, then count the rest, each key apart', () => {
    const budget = new MinuteBudget(2);
    const t0 = Date.parse('2026-12-05T10:00:00Z');
    expect([0, 1, 2, 3].map(() => budget.admit('invalid_token', t0))).toEqual([
      'store',
      'store',
      'first_over',
      'over',
    ]);
    expect(budget.admit('onboarding_signature_invalid', t0 + 59_999)).toBe('store');
    // the next minute starts over
    expect(budget.admit('invalid_token', t0 + 60_000)).toBe('store');
  });

  it('should store none with a budget of 0', () => {
    expect(new MinuteBudget(0).admit('invalid_token', 0)).toBe('first_over');
  });

  it('should track at most maxKeys keys a minute: a new key past them is counted, not stored', () => {
    const budget = new MinuteBudget(5, 2);
    expect(['a', 'b', 'c', 'a'].map((key) => budget.admit(key, 0))).toEqual([
      'store',
      'store',
      'over',
      'store',
    ]);
    expect(budget.admit('c', 60_000)).toBe('store');
  });
});

describe('DistinctMinuteCount', () => {
  it('should be over once, at the first distinct id past the budget, an id seen again counting once', () => {
    const count = new DistinctMinuteCount(2);
    expect(['p1', 'p2', 'p1', 'p2', 'p1'].map((id) => count.count('d\u0000t', id, 0))).toEqual([
      'added',
      'added',
      'none',
      'none',
      'none',
    ]);
    expect(count.count('d\u0000t', 'p3', 0)).toBe('first_over');
    expect(count.count('d\u0000t', 'p4', 0)).toBe('none');
    // another key, and the next minute, start over
    expect(count.count('e\u0000t', 'p3', 0)).toBe('added');
    expect(['p5', 'p6', 'p7'].map((id) => count.count('d\u0000t', id, 60_000))).toEqual([
      'added',
      'added',
      'first_over',
    ]);
  });

  it('should track at most maxKeys keys a minute: a key past them is never over', () => {
    const count = new DistinctMinuteCount(0, 1);
    expect(count.count('a', 'p', 0)).toBe('first_over');
    expect(count.count('b', 'p', 0)).toBe('none');
  });

  it('should count a given-back id again, and a key a failed write took over be over again (once)', () => {
    const count = new DistinctMinuteCount(2);
    expect(count.count('k', 'p1', 0)).toBe('added');
    // a failed write: p2 and p3 (which took the key over) given back, newest first
    expect(count.count('k', 'p2', 0)).toBe('added');
    expect(count.count('k', 'p3', 0)).toBe('first_over');
    count.giveBack('k', 'p3', 'first_over', 0);
    count.giveBack('k', 'p2', 'added', 0);
    // its retry counts them again: over once more, at p3
    expect(['p2', 'p3', 'p4'].map((id) => count.count('k', id, 0))).toEqual([
      'added',
      'first_over',
      'none',
    ]);
    // a give-back of another minute changes nothing
    count.giveBack('k', 'p3', 'first_over', 60_000);
    expect(count.count('k', 'p5', 0)).toBe('none');
  });
});
