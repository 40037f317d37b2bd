import { indexServing } from '@app/persistence/testing/mongo-index-cover';
import { siteHeadsPipeline } from '../repositories/mongo-attendance-log.repository';
import { AttendanceLogSchema } from './attendance-log.schema';

describe('the MongoDB ledger schema', () => {
  it("should declare an index serving the sweep's site heads: the sites' range and the (site, seq) sort, read one way", () => {
    const pipeline = siteHeadsPipeline('site-a');
    // the unique (siteId, seq) index, read backwards: its $group of $first is a distinct scan
    expect(indexServing(AttendanceLogSchema.indexes(), pipeline)).toEqual({ siteId: 1, seq: 1 });
  });

  it("should find no index for a sort that turns one of the index's keys only (what the sweep sorted by before)", () => {
    const turned = [{ $match: { siteId: { $gt: '' } } }, { $sort: { siteId: 1, seq: -1 } }];
    expect(indexServing(AttendanceLogSchema.indexes(), turned)).toBeUndefined();
  });
});
