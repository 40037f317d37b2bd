import { SqliteMigration } from '@app/persistence';

export const ONBOARDING_NONCE_SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'onboarding request nonces',
    up: `
      CREATE TABLE onboarding_nonces (
        nonce TEXT PRIMARY KEY,
        expires_at TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX onboarding_nonces_expiry ON onboarding_nonces (expires_at);
    `,
  },
];
