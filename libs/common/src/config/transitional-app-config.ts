import { OfflineSyncSettings } from './offline-sync.config';
import { TrustSettings } from './trust.config';

/**
 * Transitional: the namespaces device-trust still reads through `ConfigService` until its own
 * config files land beside its modules. Nothing else may use it.
 */
export interface AppConfig {
  offlineSync: OfflineSyncSettings;
  trust: TrustSettings;
  timesheets: { defaultTimeZone: string };
}
