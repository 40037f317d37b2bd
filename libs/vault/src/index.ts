export * from './vault.module';
export * from './keyring/keyring.service';
export * from './vault.service';
export * from './vault-audit.service';
export * from './domain/vault-file';
export * from './domain/vault-audit-record';
export * from './keyring/sealed-values';
export * from './vault.errors';
