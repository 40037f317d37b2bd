import { SqliteStore, Store } from '@app/persistence';
import { http, MONGODB_URI, startTestApp, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A legacy app whose session's one use the session store fails to record, with the relay bus
 * on the real Redis (127.0.0.1:6379) and the store's refusal put in behind the server's back (a
 * SQLite trigger on the use's column). The Redis mark the socket had just spent stayed: the
 * socket closed 1011 and the app's retry was refused `already_connected` for the session's
 * life. Now the mark is given back and the socket closes 1013 (try again later): the retry,
 * with the store writing again, joins.
 */
const sqliteOnly = MONGODB_URI ? describe.skip : describe;

sqliteOnly('a legacy app whose use the session store fails to record (e2e, Redis)', () => {
  let t: TestApp;
  afterAll(() => t?.close());

  it('should give the use back, close 1013, and let the retry join', async () => {
    t = await startTestApp({ REDIS_URL });
    const auth = await http(t.baseUrl, 'POST', '/auth', { body: { api_key: t.keys.hardware } });
    expect(auth.status).toBe(200);
    const db = t.app.get<SqliteStore>(Store).db;
    db.exec(
      `CREATE TRIGGER fault_app_use BEFORE UPDATE OF app_used_at ON pairing_sessions
       BEGIN SELECT RAISE(ABORT, 'fault'); END`,
    );

    const failed = await TestSocket.open(`${t.wsUrl}/ws/app?token=${auth.body.token}`);
    await failed.error('internal_error');
    expect(await failed.waitClose()).toBe(1013);

    db.exec('DROP TRIGGER fault_app_use');
    const app = await TestSocket.open(`${t.wsUrl}/ws/app?token=${auth.body.token}`);
    expect(await app.next('joined')).toEqual({ type: 'joined', role: 'app' });
    app.close();
    await app.waitClose();

    // the use is spent now: a third socket is refused
    const third = await TestSocket.open(`${t.wsUrl}/ws/app?token=${auth.body.token}`);
    await third.error('already_connected');
  });
});
