import type { Database, Statement } from 'better-sqlite3';
import { SqliteStoreHandle } from '@app/persistence';
import { FraudEvent, FraudEventCriteria } from '../../../../domain/fraud-event';
import { FraudEventRepository } from '../../fraud-event.repository';
import { FraudEventRow, FraudEventSqliteMapper as Mapper } from '../mappers/fraud-event.mapper';
import { FRAUD_SQLITE_MIGRATIONS } from '../sqlite-fraud.migrations';

export class SqliteFraudEventRepository extends FraudEventRepository {
  private readonly db: Database;
  private readonly insert: Statement;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('fraud', FRAUD_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.insert = this.db.prepare(
      `INSERT INTO fraud_events (id, type, device_id, worker_id, site_id, packet_id, detail, at)
       VALUES (@id, @type, @device_id, @worker_id, @site_id, @packet_id, @detail, @at)`,
    );
  }

  async recordAll(events: FraudEvent[]): Promise<void> {
    if (events.length === 0) return;
    this.db.transaction(() => {
      for (const event of events) this.insert.run(Mapper.toPersistence(event));
    })();
  }

  async listByPacketIds(packetIds: string[], limit: number): Promise<FraudEvent[]> {
    const ids = [...new Set(packetIds)];
    const found: FraudEvent[] = [];
    for (let i = 0; i < ids.length && found.length < limit; i += 500) {
      const chunk = ids.slice(i, i + 500);
      found.push(
        ...this.db
          .prepare<unknown[], FraudEventRow>(
            `SELECT * FROM fraud_events WHERE packet_id IN (${chunk.map(() => '?').join(',')})
             ORDER BY at, id LIMIT ?`,
          )
          .all(...chunk, limit - found.length)
          .map(Mapper.toDomain),
      );
    }
    return found;
  }

  async listRecent(criteria: FraudEventCriteria): Promise<FraudEvent[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const equal: [string, string | undefined][] = [
      ['type', criteria.type],
      ['device_id', criteria.deviceId],
      ['worker_id', criteria.workerId],
      ['site_id', criteria.siteId],
    ];
    for (const [column, value] of equal) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    if (criteria.from) {
      where.push('at >= ?');
      params.push(criteria.from.toISOString());
    }
    if (criteria.to) {
      where.push('at <= ?');
      params.push(criteria.to.toISOString());
    }
    if (criteria.before) {
      where.push('(at < ? OR (at = ? AND id < ?))');
      const at = criteria.before.at.toISOString();
      params.push(at, at, criteria.before.id);
    }
    params.push(criteria.limit);
    return this.db
      .prepare<(string | number)[], FraudEventRow>(
        `SELECT * FROM fraud_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY at DESC, id DESC LIMIT ?`,
      )
      .all(...params)
      .map(Mapper.toDomain);
  }
}
