import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { TestApp } from './test-app';

const FAULT = 'fault_no_device_block';
const DUMMY = 'fault-blocked-dummy';

/**
 * A store that refuses to block a device, put in behind the server's back as the database's own
 * refusal: a SQLite trigger on the device's blocked flag; on MongoDB a unique index over the
 * blocked devices' flag, with one blocked stand-in document, so a second blocked device is a
 * duplicate key. `repair` takes it out again.
 */
export const deviceBlockFault = (t: TestApp) => ({
  async break(): Promise<void> {
    const store = t.app.get(Store);
    if (store instanceof MongoStore) {
      const devices = store.connection.collection('worker_devices');
      await devices.insertOne({ deviceId: DUMMY, isBlocked: true });
      await devices.createIndex(
        { isBlocked: 1 },
        { name: FAULT, unique: true, partialFilterExpression: { isBlocked: true } },
      );
      return;
    }
    (store as SqliteStore).db.exec(
      `CREATE TRIGGER ${FAULT} BEFORE UPDATE OF is_blocked ON worker_devices
       WHEN NEW.is_blocked = 1
       BEGIN SELECT RAISE(ABORT, 'fault'); END`,
    );
  },
  async repair(): Promise<void> {
    const store = t.app.get(Store);
    if (store instanceof MongoStore) {
      const devices = store.connection.collection('worker_devices');
      await devices.dropIndex(FAULT);
      await devices.deleteOne({ deviceId: DUMMY });
      return;
    }
    (store as SqliteStore).db.exec(`DROP TRIGGER ${FAULT}`);
  },
});
