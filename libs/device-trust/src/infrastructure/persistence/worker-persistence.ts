// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { OnboardingNonceRepository } from './onboarding-nonce.repository';
import { SqliteOnboardingNonceRepository } from './sqlite/repositories/sqlite-onboarding-nonce.repository';
import { SqliteWorkerDeviceRepository } from './sqlite/repositories/sqlite-worker-device.repository';
import { SqliteWorkforceRepository } from './sqlite/repositories/sqlite-workforce.repository';
import { WorkerDeviceRepository } from './worker-device.repository';
import { WorkforceRepository } from './workforce.repository';

/** How the workforce and worker-device ports are built on each store. */
export const workforceAdapters: PortAdapters<WorkforceRepository> = {
  sqlite: (store) => new SqliteWorkforceRepository(store),
  mongo: async (store) =>
    new (await import('./mongo/repositories/mongo-workforce.repository')).MongoWorkforceRepository(
      store,
    ),
};

export const workerDeviceAdapters: PortAdapters<WorkerDeviceRepository> = {
  sqlite: (store) => new SqliteWorkerDeviceRepository(store),
  mongo: async (store) =>
    new (
      await import('./mongo/repositories/mongo-worker-device.repository')
    ).MongoWorkerDeviceRepository(store),
};

export const onboardingNonceAdapters: PortAdapters<OnboardingNonceRepository> = {
  sqlite: (store) => new SqliteOnboardingNonceRepository(store),
  mongo: async (store) =>
    new (
      await import('./mongo/repositories/mongo-onboarding-nonce.repository')
    ).MongoOnboardingNonceRepository(store),
};
