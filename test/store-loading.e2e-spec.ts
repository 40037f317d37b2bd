import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mongoose';
import { MongoStore, PersistenceModule, PortAdapters, Store } from '@app/persistence';
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
  it('should boot on SQLite without loading mongoose, the MongoDB driver, bson or @nestjs/mongoose', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mdai-probe-'));
    try {
      const probe = spawnSync(
        process.execPath,
        ['-r', '@swc-node/register', join(__dirname, 'support', 'boot-probe.ts')],
        {
          cwd: join(__dirname, '..'),
          env: { ...process.env, NODE_ENV: 'test', DATA_DIR: dataDir, DATABASE_URL: '' },
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      expect(probe.stderr).toBe('');
      const line = probe.stdout.split('\n').find((l) => l.startsWith('LOADED '));
      expect(line).toBeDefined();
      expect(JSON.parse(line!.slice('LOADED '.length))).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('should open MongoDB through the lazily imported MongoStoreModule', async () => {
    const settings = { driver: 'mongo' as const, url: 'mongodb://127.0.0.1:1/mdai' };
    const imported = await PersistenceModule.forRoot(settings).imports![0];
    expect(imported).toMatchObject({ module: MongoStoreModule, exports: [Store] });
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
      const adapter = await all[name].mongo(store);
      expect(adapter.constructor.name).toMatch(/^Mongo/);
    }
    expect(await fraudEventAdapters.mongo(store)).toBeInstanceOf(FraudEventRepository);
    await connection.close();
  });
});
