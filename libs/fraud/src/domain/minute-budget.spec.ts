import { MinuteBudget } from './minute-budget';

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
