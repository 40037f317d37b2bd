export * from './offline-sync.module';
export * from './offline-sync.service';
export * from './ledger.service';
export { LINK_KEY_WAIT_MS, LinkKeyWaits } from './link-key-waits';
export * from './domain/attendance-log';
export * from './domain/attendance-packet';
export * from './domain/sync-result';
export * from './offline-sync.config';
export * from './offline-sync.errors';
