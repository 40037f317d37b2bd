import { Injectable } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import { SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import { OnboardingNonceRepository } from '../../onboarding-nonce.repository';
import { ONBOARDING_NONCE_SQLITE_MIGRATIONS } from '../sqlite-onboarding-nonce.migrations';

/** The primary key decides: INSERT OR IGNORE changes one row for exactly one claimant. */
@Injectable()
export class SqliteOnboardingNonceRepository extends OnboardingNonceRepository {
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;
  private readonly insert: Statement<[string, string]>;
  private readonly purge: Statement<[string]>;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('device-trust.onboarding-nonces', ONBOARDING_NONCE_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.insert = this.db.prepare(
      'INSERT OR IGNORE INTO onboarding_nonces (nonce, expires_at) VALUES (?, ?)',
    );
    this.purge = this.db.prepare('DELETE FROM onboarding_nonces WHERE expires_at <= ?');
  }

  async claim(nonce: string, expiresAt: Date, now: Date): Promise<boolean> {
    return this.turns.write(() =>
      this.db
        .transaction(() => {
          this.purge.run(now.toISOString());
          return this.insert.run(nonce, expiresAt.toISOString()).changes === 1;
        })
        .immediate(),
    );
  }
}
