import type { Database } from 'better-sqlite3';
import { SqliteStoreHandle } from '@app/persistence';
import { LedgerCheckpoint } from '../../../../domain/ledger-checkpoint';
import { LedgerCheckpointRepository } from '../../ledger-checkpoint.repository';
import {
  AttendanceLogSqliteMapper as Mapper,
  LedgerCheckpointRow,
} from '../mappers/attendance-log.mapper';
import { LEDGER_SQLITE_MIGRATIONS } from '../sqlite-ledger.migrations';

export class SqliteLedgerCheckpointRepository extends LedgerCheckpointRepository {
  private readonly db: Database;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('offline-sync.ledger', LEDGER_SQLITE_MIGRATIONS);
    this.db = store.db;
  }

  async saveCheckpoint(checkpoint: LedgerCheckpoint): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO ledger_checkpoints (site_id, seq, head_hash, signed_at, kid, alg, signature)
         VALUES (@site_id, @seq, @head_hash, @signed_at, @kid, @alg, @signature)
         ON CONFLICT (site_id, seq) DO NOTHING`,
      )
      .run(Mapper.checkpointToPersistence(checkpoint));
  }

  async listCheckpoints(siteId: string): Promise<LedgerCheckpoint[]> {
    return this.db
      .prepare<[string], LedgerCheckpointRow>(
        'SELECT * FROM ledger_checkpoints WHERE site_id = ? ORDER BY seq',
      )
      .all(siteId)
      .map(Mapper.checkpointToDomain);
  }
}
