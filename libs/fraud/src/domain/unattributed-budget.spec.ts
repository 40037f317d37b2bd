import { UnattributedBudget } from './unattributed-budget';

describe('UnattributedBudget', () => {
  it('should store a type up to its budget each minute, then count the rest, each type apart', () => {
    const budget = new UnattributedBudget(2);
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
    expect(new UnattributedBudget(0).admit('invalid_token', 0)).toBe('first_over');
  });
});
