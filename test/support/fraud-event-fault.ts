import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { http, TestApp } from './test-app';

const FAULT = 'fault_one_event_per_device';

/**
 * A store that refuses a second fraud event of one device (the first one of a write passes),
 * put in behind the server's back as the database's own refusal: a SQLite trigger, a MongoDB
 * unique index over the device's events. `repair` takes it out again.
 */
export const fraudEventFault = (t: TestApp) => ({
  async break(deviceId: string): Promise<void> {
    const store = t.app.get(Store);
    if (store instanceof MongoStore) {
      await store.connection
        .collection('fraud_events')
        .createIndex(
          { deviceId: 1 },
          { name: FAULT, unique: true, partialFilterExpression: { deviceId } },
        );
      return;
    }
    (store as SqliteStore).db.exec(
      `CREATE TRIGGER ${FAULT} BEFORE INSERT ON fraud_events
       WHEN (SELECT count(*) FROM fraud_events WHERE device_id = NEW.device_id) >= 1
       BEGIN SELECT RAISE(ABORT, 'fault'); END`,
    );
  },
  async repair(): Promise<void> {
    const store = t.app.get(Store);
    if (store instanceof MongoStore) {
      await store.connection.collection('fraud_events').dropIndex(FAULT);
      return;
    }
    (store as SqliteStore).db.exec(`DROP TRIGGER ${FAULT}`);
  },
});

/** The fraud events of `deviceId` (of `type` when given), as the admin lists them. */
export async function fraudEventsOf(t: TestApp, deviceId: string, type?: string) {
  const res = await http(
    t.baseUrl,
    'GET',
    `/api/v5/fraud/events?deviceId=${deviceId}${type ? `&type=${type}` : ''}&limit=100`,
    { key: t.keys.admin },
  );
  expect(res.status).toBe(200);
  return res.body as { type: string }[];
}

const TYPE_FAULT = 'fault_no_device_blocked_events';
const TYPE_FAULT_STAND_IN = 'fault-device-blocked-stand-in';
const TYPE_FAULT_ASIDE = 'fault_device_blocked_aside';

/**
 * A store that refuses every `device_blocked` fraud event (any other type is written), put in
 * behind the server's back as the database's own refusal: a SQLite trigger; on MongoDB a
 * unique index over the type of `device_blocked` events, with one stand-in event of that type
 * (no device), so every further one is a duplicate key (the ones stored before are set aside
 * under another type meanwhile: the index could not be built over them). `repair` takes it
 * out again and puts them back.
 */
export const deviceBlockedEventFault = (t: TestApp) => ({
  async break(): Promise<void> {
    const store = t.app.get(Store);
    if (store instanceof MongoStore) {
      const events = store.connection.collection('fraud_events');
      await events.updateMany({ type: 'device_blocked' }, { $set: { type: TYPE_FAULT_ASIDE } });
      await events.insertOne({
        _id: TYPE_FAULT_STAND_IN as never,
        type: 'device_blocked',
        detail: 'fault',
        at: new Date(0),
      });
      await events.createIndex(
        { type: 1 },
        { name: TYPE_FAULT, unique: true, partialFilterExpression: { type: 'device_blocked' } },
      );
      return;
    }
    (store as SqliteStore).db.exec(
      `CREATE TRIGGER ${TYPE_FAULT} BEFORE INSERT ON fraud_events
       WHEN NEW.type = 'device_blocked'
       BEGIN SELECT RAISE(ABORT, 'fault'); END`,
    );
  },
  async repair(): Promise<void> {
    const store = t.app.get(Store);
    if (store instanceof MongoStore) {
      const events = store.connection.collection('fraud_events');
      await events.dropIndex(TYPE_FAULT);
      await events.deleteOne({ _id: TYPE_FAULT_STAND_IN as never });
      await events.updateMany({ type: TYPE_FAULT_ASIDE }, { $set: { type: 'device_blocked' } });
      return;
    }
    (store as SqliteStore).db.exec(`DROP TRIGGER ${TYPE_FAULT}`);
  },
});
