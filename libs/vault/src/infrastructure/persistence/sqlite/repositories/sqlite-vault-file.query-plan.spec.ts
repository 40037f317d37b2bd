import { describeLiteralLimitPlans } from '@app/persistence/testing/literal-limit-plans';
import {
  SqliteVaultFileRepository,
  VAULT_FILES_LIVE_ID_BEFORE_SQL,
  VAULT_FILES_LIVE_NOT_WRAPPED_BY_SQL,
} from './sqlite-vault-file.repository';

// The shred and reseal jobs' pages as LimitedStatement runs them.
describeLiteralLimitPlans(
  'SqliteVaultFileRepository',
  (store) => new SqliteVaultFileRepository(store), // applies the migrations
  [
    [
      'live files by id before',
      VAULT_FILES_LIVE_ID_BEFORE_SQL,
      ['69000000' + '0'.repeat(16)],
      false,
    ],
    ['live files not wrapped by', VAULT_FILES_LIVE_NOT_WRAPPED_BY_SQL, ['v2'], false],
  ],
);
