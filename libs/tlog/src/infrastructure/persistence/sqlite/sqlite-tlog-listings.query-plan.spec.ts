import { describeLiteralLimitPlans } from '@app/persistence/testing/literal-limit-plans';
import { SqliteTlogRepository, TLOG_CHECKPOINT_PAGE_SQL } from './sqlite-tlog.repository';

// The checkpoint listing as LimitedStatement runs it.
describeLiteralLimitPlans(
  'SqliteTlogRepository',
  (store) => new SqliteTlogRepository(store), // applies the migrations
  [['checkpoints, after a size', TLOG_CHECKPOINT_PAGE_SQL, [1, 0], true]],
);
