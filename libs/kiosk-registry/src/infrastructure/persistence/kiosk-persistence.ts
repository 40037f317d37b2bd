// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { KioskDeviceRepository } from './kiosk-device.repository';
import { SqliteKioskDeviceRepository } from './sqlite/repositories/sqlite-kiosk-device.repository';

/** How the kiosk registry port is built on each store (used by the module and the contract suite). */
export const kioskDeviceAdapters: PortAdapters<KioskDeviceRepository> = {
  sqlite: SqliteKioskDeviceRepository,
  mongo: async () =>
    (await import('./mongo/repositories/mongo-kiosk-device.repository')).MongoKioskDeviceRepository,
};
