export * from './offline-sync.module';
