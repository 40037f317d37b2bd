import { indexServing } from '@app/persistence/testing/mongo-index-cover';
import { PayrollCloseSchema, UNLINKED_SITES_PIPELINE } from './mongo-payroll-close.repository';

describe('the MongoDB payroll close schema', () => {
  // reviewer G: the boot's link found the sites holding closes of an earlier release by a
  // distinct over every close (a collection scan)
  it('should serve the sites holding unlinked closes from an index of the unlinked closes (no collection scan)', () => {
    expect(indexServing(PayrollCloseSchema.indexes(), UNLINKED_SITES_PIPELINE(100))).toEqual({
      seq: 1,
      siteId: 1,
    });
    const [unlinked] = PayrollCloseSchema.indexes().filter(
      ([, options]) => (options as { name?: string }).name === 'payroll_closes_unlinked',
    );
    // not partial: a partial filter cannot name a missing field ($exists: false)
    expect(unlinked[1]).not.toHaveProperty('partialFilterExpression');
  });
});
