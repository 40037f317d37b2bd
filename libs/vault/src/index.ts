export * from './vault.module';
