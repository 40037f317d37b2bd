import { FRAUD_EVENT_TYPES } from '../../../../domain/fraud-event';
import { FraudEventSchema, WEIGHING_TYPES } from './fraud-event.schema';

/** A type's match of the partial filter's `$or` of ranges (string comparison, as MongoDB's). */
function weighs(type: string): boolean {
  return WEIGHING_TYPES.$or.some(({ type: range }) =>
    range.$lt !== undefined ? type < range.$lt : type > range.$gt,
  );
}

describe('the MongoDB fraud event schema', () => {
  it("should declare SQLite's fraud_events_weighing_type: a device's events that weigh by type, partial on their type", () => {
    const weighing = FraudEventSchema.indexes().find(
      ([, options]) => (options as { name?: string }).name === 'fraud_events_weighing_type',
    );
    expect(weighing).toBeDefined();
    const [keys, options] = weighing!;
    // an index's key is ordered: the device and type (one read per type), then newest first,
    // then what the read filters on
    expect(Object.entries(keys)).toEqual([
      ['deviceId', 1],
      ['type', 1],
      ['at', -1],
      ['_id', -1],
      ['review.decision', 1],
    ]);
    expect(options).toMatchObject({ partialFilterExpression: WEIGHING_TYPES });
    // MongoDB's partial filters take ranges, equality, $exists, $type, $and, $or and $in only
    expect(JSON.stringify(WEIGHING_TYPES)).not.toMatch(/\$ne|\$nin|\$not/);
  });

  it('should leave out device_blocked alone, whatever the type (added ones too)', () => {
    for (const type of FRAUD_EVENT_TYPES)
      expect([type, weighs(type)]).toEqual([type, type !== 'device_blocked']);
    expect(weighs('a_type_added_later')).toBe(true);
    expect(weighs('device_blocked')).toBe(false);
  });
});
