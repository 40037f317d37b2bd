import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MongoTestServer,
  mongoTestServerAvailable,
  startMongoTestServer,
} from './support/mongo-test-server';
import { ApiProcess, startApiProcess } from './support/processes';
import { http, pollUntil } from './support/test-app';

const ADMIN_KEY = 'frozen-store-admin-key-0123456789abcdef';

/**
 * MongoDB frozen (a partition, a stuck primary: the connections stay up and nothing answers).
 * A request that needs the store must get a clear error, not wait forever; /health says the
 * store is down; everything works again by itself when it answers again.
 */
(mongoTestServerAvailable() ? describe : describe.skip)(
  'the API with MongoDB frozen and back (real API process)',
  () => {
    let mongo: MongoTestServer;
    let dataDir: string;
    let api: ApiProcess;
    beforeAll(async () => {
      mongo = await startMongoTestServer();
      dataDir = mkdtempSync(join(tmpdir(), 'mdai-frozen-store-'));
      api = await startApiProcess({
        DATA_DIR: dataDir,
        DATABASE_URL: `${mongo.uri}mdai_frozen`,
        ADMIN_API_KEYS: ADMIN_KEY,
      });
    });
    afterAll(async () => {
      mongo?.resume();
      await api?.kill();
      await mongo?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('should answer a clear 503 while frozen, a truthful /health, and recover by itself', async () => {
      const list = () => http(api.baseUrl, 'GET', '/api/kiosks?limit=1', { key: ADMIN_KEY });
      expect((await list()).status).toBe(200);
      mongo.freeze();
      const during = await list();
      expect([during.status, during.body.code]).toEqual([503, 'store_unavailable']);
      const health = await http(api.baseUrl, 'GET', '/health', { key: ADMIN_KEY });
      expect([health.status, health.body.details.store.status]).toEqual([503, 'down']);
      mongo.resume();
      const after = await pollUntil(list, (res) => res.status === 200);
      expect(after.status).toBe(200);
      expect((await http(api.baseUrl, 'GET', '/health')).status).toBe(200);
      expect(api.alive()).toBe(true);
    }, 120_000);

    it('should exit on SIGTERM while MongoDB is frozen', async () => {
      expect((await http(api.baseUrl, 'GET', '/health')).status).toBe(200);
      mongo.freeze();
      const exited = new Promise<void>((resolve) => api.child.once('exit', () => resolve()));
      api.child.kill('SIGTERM');
      await exited; // before the fix: never (the jest timeout fails the test)
      expect(api.alive()).toBe(false);
    }, 120_000);
  },
);
