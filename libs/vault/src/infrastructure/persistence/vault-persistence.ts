// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { SqliteVaultAuditRepository } from './sqlite/repositories/sqlite-vault-audit.repository';
import { SqliteVaultFileRepository } from './sqlite/repositories/sqlite-vault-file.repository';
import { VaultAuditRepository } from './vault-audit.repository';
import { VaultFileRepository } from './vault-file.repository';

/** How the vault ports are built on each store (used by the module and the contract suites). */
export const vaultFileAdapters: PortAdapters<VaultFileRepository> = {
  sqlite: SqliteVaultFileRepository,
  mongo: async () =>
    (await import('./mongo/repositories/mongo-vault-file.repository')).MongoVaultFileRepository,
};

export const vaultAuditAdapters: PortAdapters<VaultAuditRepository> = {
  sqlite: SqliteVaultAuditRepository,
  mongo: async () =>
    (await import('./mongo/repositories/mongo-vault-audit.repository')).MongoVaultAuditRepository,
};
