import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mongoose';
import {
  MongoStore,
  MongoStoreHandle,
  PersistenceModule,
  PortAdapters,
  Store,
} from '@app/persistence';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { MongoStoreModule } from '@app/persistence/mongo/mongo-store.module';
import { fraudEventAdapters } from '@app/fraud/infrastructure/persistence/fraud-persistence';
import { FraudEventRepository } from '@app/fraud/infrastructure/persistence/fraud-event.repository';
import * as kiosk from '@app/kiosk-registry/infrastructure/persistence/kiosk-persistence';
import * as workforce from '@app/workforce/infrastructure/persistence/workforce-persistence';
import * as worker from '@app/device-trust/infrastructure/persistence/worker-persistence';
import * as ledger from '@app/offline-sync/infrastructure/persistence/ledger-persistence';
import * as provisioning from '@app/provisioning/infrastructure/persistence/provisioning-persistence';
import * as session from '@app/session/infrastructure/persistence/session-persistence';
import * as vault from '@app/vault/infrastructure/persistence/vault-persistence';
import * as timesheets from '@app/timesheets/infrastructure/persistence/timesheet-persistence';

/** Modules of a store that is not selected are not loaded (startup time and idle memory). */
describe('store loading (e2e)', () => {
  function probe(env: NodeJS.ProcessEnv): string[] {
    const dataDir = mkdtempSync(join(tmpdir(), 'mdai-probe-'));
    try {
      const run = spawnSync(
        process.execPath,
        ['-r', '@swc-node/register', join(__dirname, 'support', 'boot-probe.ts')],
        {
          cwd: join(__dirname, '..'),
          env: { ...process.env, NODE_ENV: 'test', DATA_DIR: dataDir, ...env },
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      expect(run.stderr).toBe('');
      const line = run.stdout.split('\n').find((l) => l.startsWith('LOADED '));
      expect(line).toBeDefined();
      return JSON.parse(line!.slice('LOADED '.length)) as string[];
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }

  it('should boot on SQLite without loading mongoose, the MongoDB driver, bson or @nestjs/mongoose', () => {
    // nor ioredis and the Redis rate-limit storage (no REDIS_URL), nor axios (no upstream call
    // yet); and whatever the store: neither class-validator's index (nor with it all of
    // `validator` and libphonenumber-js; libs/common/src/validation/validators.ts) nor terminus,
    // nor @nestjs/swagger and all of lodash (only to build the document:
    // libs/common/src/http/openapi-decorators.ts), nor @opentelemetry/api (prom-client's index;
    // libs/common/src/http/prometheus.ts), nor @nestjs/jwt and jsonwebtoken (loaded at the first
    // session token: libs/session/src/session-token.service.ts), nor @nestjs/config's index and
    // the lodash pieces of its ConfigService (apps/api/src/config/app-config.ts), nor
    // class-transformer's index (libs/common/src/validation/transformers.ts), nor `bindings`
    // (better-sqlite3 is given its addon's path: libs/persistence/src/sqlite/sqlite-store.ts)
    expect(probe({ DATABASE_URL: '', REDIS_URL: '', UPSTREAM_URL: '' })).toEqual([]);
  });

  it('should load ioredis and the Redis rate-limit storage when REDIS_URL is set', () => {
    expect(
      probe({ DATABASE_URL: '', REDIS_URL: 'redis://127.0.0.1:6379', UPSTREAM_URL: '' }),
    ).toEqual(['@nest-lab/throttler-storage-redis', 'ioredis']);
  });

  it('should open MongoDB through the lazily imported MongoStoreModule', async () => {
    const settings = { driver: 'mongo' as const, url: 'mongodb://127.0.0.1:1/mdai' };
    const imported = await PersistenceModule.forRoot(settings).imports![0];
    expect(imported).toMatchObject({
      module: MongoStoreModule,
      exports: [Store, MongoStoreHandle],
    });
  });

  it('should build every port’s Mongo adapter on demand', async () => {
    // a connection that is never opened: building an adapter only registers its model
    const connection = createConnection();
    const store = new MongoStore(connection);
    const all: Record<string, PortAdapters<object>> = {
      fraudEventAdapters,
      ...kiosk,
      ...workforce,
      ...worker,
      ...ledger,
      ...provisioning,
      ...session,
      ...vault,
      ...timesheets,
    };
    const names = Object.keys(all).filter((name) => name.endsWith('Adapters'));
    expect(names.length).toBeGreaterThanOrEqual(11);
    for (const name of names) {
      // built by Nest as the app builds it; not initialized (no indexes on a closed connection)
      const { adapter, close } = await compileAdapter(store, all[name], { init: false });
      expect(adapter.constructor.name).toMatch(/^Mongo/);
      await close();
    }
    const fraud = await compileAdapter(store, fraudEventAdapters, { init: false });
    expect(fraud.adapter).toBeInstanceOf(FraudEventRepository);
    await fraud.close();
    await connection.close();
  });
});
