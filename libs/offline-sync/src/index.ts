export * from './offline-sync.module';
export * from './offline-sync.service';
export * from './ledger.service';
export * from './domain/attendance-log';
export * from './domain/attendance-packet';
export * from './domain/sync-result';
export * from './offline-sync.config';
export * from './offline-sync.errors';
