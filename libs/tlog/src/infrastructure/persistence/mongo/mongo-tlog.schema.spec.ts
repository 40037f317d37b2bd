import { indexServing } from '@app/persistence/testing/mongo-index-cover';
import { latestCheckpointsPipeline, TlogCheckpointSchema } from './mongo-tlog.repository';

describe('the MongoDB transparency log schema', () => {
  it('should declare an index serving the latest checkpoints of a page of logs: the origins and the (origin, size) sort, read one way', () => {
    const pipeline = latestCheckpointsPipeline(['mdai.local/ledger/a', 'mdai.local/ledger/b']);
    // the unique (origin, size) index, read backwards: its $group of $first is a distinct scan
    expect(indexServing(TlogCheckpointSchema.indexes(), pipeline)).toEqual({ origin: 1, size: 1 });
  });
});
