import { PortAdapters } from '@app/persistence';
import { MongoOnboardingNonceRepository } from './mongo/repositories/mongo-onboarding-nonce.repository';
import { OnboardingNonceRepository } from './onboarding-nonce.repository';
import { SqliteOnboardingNonceRepository } from './sqlite/repositories/sqlite-onboarding-nonce.repository';
import { MongoWorkerDeviceRepository } from './mongo/repositories/mongo-worker-device.repository';
import { MongoWorkforceRepository } from './mongo/repositories/mongo-workforce.repository';
import { SqliteWorkerDeviceRepository } from './sqlite/repositories/sqlite-worker-device.repository';
import { SqliteWorkforceRepository } from './sqlite/repositories/sqlite-workforce.repository';
import { WorkerDeviceRepository } from './worker-device.repository';
import { WorkforceRepository } from './workforce.repository';

/** How the workforce and worker-device ports are built on each store. */
export const workforceAdapters: PortAdapters<WorkforceRepository> = {
  sqlite: (store) => new SqliteWorkforceRepository(store),
  mongo: (store) => new MongoWorkforceRepository(store),
};

export const workerDeviceAdapters: PortAdapters<WorkerDeviceRepository> = {
  sqlite: (store) => new SqliteWorkerDeviceRepository(store),
  mongo: (store) => new MongoWorkerDeviceRepository(store),
};

export const onboardingNonceAdapters: PortAdapters<OnboardingNonceRepository> = {
  sqlite: (store) => new SqliteOnboardingNonceRepository(store),
  mongo: (store) => new MongoOnboardingNonceRepository(store),
};
