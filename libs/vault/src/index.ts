export * from './vault.module';
export * from './keyring/keyring.service';
