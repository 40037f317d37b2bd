// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { IssuedTokenRepository } from './issued-token.repository';
import { OnboardingNonceRepository } from './onboarding-nonce.repository';
import { SqliteIssuedTokenRepository } from './sqlite/repositories/sqlite-issued-token.repository';
import { SqliteOnboardingNonceRepository } from './sqlite/repositories/sqlite-onboarding-nonce.repository';
import { SqliteWorkerDeviceRepository } from './sqlite/repositories/sqlite-worker-device.repository';
import { WorkerDeviceRepository } from './worker-device.repository';

/** How the worker-device and replay-mark ports are built on each store. */
export const workerDeviceAdapters: PortAdapters<WorkerDeviceRepository> = {
  sqlite: SqliteWorkerDeviceRepository,
  mongo: async () =>
    (await import('./mongo/repositories/mongo-worker-device.repository'))
      .MongoWorkerDeviceRepository,
};

export const onboardingNonceAdapters: PortAdapters<OnboardingNonceRepository> = {
  sqlite: SqliteOnboardingNonceRepository,
  mongo: async () =>
    (await import('./mongo/repositories/mongo-onboarding-nonce.repository'))
      .MongoOnboardingNonceRepository,
};

export const issuedTokenAdapters: PortAdapters<IssuedTokenRepository> = {
  sqlite: SqliteIssuedTokenRepository,
  mongo: async () =>
    (await import('./mongo/repositories/mongo-issued-token.repository')).MongoIssuedTokenRepository,
};
