import { Store } from '@app/persistence';
import { TestKiosk } from './support/kiosk';
import { openSession } from './support/pairing';
import { http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';
import { TestSocket } from './support/ws-client';

/**
 * Issue 13: a store outage while a kiosk authenticates is a failure of the server, reported and
 * logged as one (internal_error, close 1011, a log line with the stack), never the verdict
 * `device_not_registered` / 4403 that tells a fielded kiosk it was deregistered.
 */
describe('relay kiosk auth during a store outage (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close().catch(() => undefined); // the store is already closed
  });

  // SQLite only: closing the Mongo store's connection does not make the next query fail (the
  // driver serves it), so the outage cannot be staged this way on MongoDB
  itOnSqliteFile(
    'should answer internal_error and close 1011, log the cause with its stack, and report /health down',
    async () => {
      const kiosk = await TestKiosk.registered(t, 'TEE-OUTAGE-1');
      const session = await openSession(t, 'PLT_outage0001');
      const device = await TestSocket.open(`${t.wsUrl}/ws/device?token=${session.deviceToken}`);
      const { nonce } = await device.next('challenge');

      await t.app.get(Store).close(); // the store goes away between the challenge and the answer
      device.send({
        type: 'auth',
        session_id: session.sessionId,
        device_id: kiosk.deviceId,
        signature: kiosk.signAuth(session.sessionId, nonce),
      });

      const error = await device.next('error');
      expect({ code: error.code, close: await device.waitClose() }).toEqual({
        code: 'internal_error',
        close: 1011,
      });
      const line = t
        .logs()
        .split('\n')
        .find((l) => l.includes('Frame handling failed'));
      expect(line).toBeDefined();
      const logged = JSON.parse(line!) as { err?: { stack?: string }; sessionId?: string };
      expect(logged.sessionId).toBe(session.sessionId);
      expect(logged.err?.stack).toMatch(/\n\s+at /);
      expect(line).not.toContain('PLT_outage0001');
      expect((await http(t.baseUrl, 'GET', '/health')).status).toBe(503);
    },
  );
});
