import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LedgerService } from '@app/offline-sync';
import { AttendanceLogRepository } from '@app/offline-sync/infrastructure/persistence/attendance-log.repository';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { MongoStore, Store } from '@app/persistence';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import {
  e2eDriver,
  http,
  JsonResponse,
  slowOnMongo,
  startTestApp,
  TestApp,
} from './support/test-app';
import { recordWorkersOf } from './support/ledger-workers';
import { createSite } from './support/timesheet-client';

/** Yesterday (UTC): every punch's day. */
const DAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
/** The corrected worker (its check-in is the target). */
const WORKER = 'c'.repeat(24);

/**
 * A correction's rules read the site's timesheet read model, which it first brings up to the
 * chain's head. On a server whose model lags the ledger (another replica took the syncs: this
 * one's projector heard nothing of them), a correction waited for the whole catch-up (over
 * 300 s under load). Now a lag past TIMESHEET_CORRECTION_MAX_LAG links, or a wait past
 * TIMESHEET_CORRECTION_WAIT_MS, answers 503 `timesheets_catching_up` with Retry-After,
 * appends nothing, and leaves the catch-up running, so the client's retry is taken once it is
 * done. The other replica's links are appended here straight into the shared ledger store, as
 * test/timesheets-catch-up-bound.e2e-spec.ts does.
 */
describe('a correction on a server whose timesheet read model lags its ledger (e2e)', () => {
  async function lagging(
    env: Record<string, string>,
    backlog: number,
  ): Promise<{ t: TestApp; dataDir: string; siteId: string; seq: number }> {
    const dataDir = mkdtempSync(join(tmpdir(), 'mdai-ts-correction-lag-'));
    const t = await startTestApp({ ...env, DATA_DIR: dataDir });
    const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'UTC');
    // the check-in to close, through the ledger's hook: this server's model holds it
    const checkIn = punchEntry({
      siteId,
      workerId: WORKER,
      type: 'check_in',
      timestamp: `${DAY}T03:30:00.000Z`,
    });
    await recordWorkersOf(t.app, [checkIn]);
    const [target] = await t.app.get(LedgerService).append([checkIn]);
    const read = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/timesheets?from=${DAY}&to=${DAY}`,
      {
        key: t.keys.auditor,
      },
    );
    expect(read.body.days).toHaveLength(1);
    if (backlog > 0) await appendElsewhere(t, siteId, backlog);
    return { t, dataDir, siteId, seq: target.log.seq };
  }

  /** Another replica's syncs of other workers: links this server's projector never heard of. */
  async function appendElsewhere(t: TestApp, siteId: string, backlog: number): Promise<void> {
    const entries = Array.from({ length: backlog }, (_, i) =>
      punchEntry({
        siteId,
        workerId: String(i % 50).padStart(24, 'e'),
        type: Math.floor(i / 50) % 2 === 0 ? 'check_in' : 'check_out',
        timestamp: new Date(Date.parse(`${DAY}T04:00:00.000Z`) + i * 1000).toISOString(),
      }),
    );
    await recordWorkersOf(t.app, entries);
    await t.app.get(AttendanceLogRepository, { strict: false }).appendToChains(entries);
  }

  async function close(app: { t: TestApp; dataDir: string } | undefined): Promise<void> {
    const store = app?.t.app.get(Store);
    if (store instanceof MongoStore) await store.connection.dropDatabase();
    await app?.t.close({ keepData: true });
    if (app) rmSync(app.dataDir, { recursive: true, force: true });
  }

  /** The same correction, sent again every 100 ms while it is refused 503 catching up. */
  async function retried(send: () => Promise<JsonResponse>): Promise<JsonResponse> {
    for (let i = 0; ; i++) {
      const answer = await send();
      if (answer.status !== 503 || i === 600) return answer;
      expect(answer.body.code).toBe('timesheets_catching_up');
      await sleep(100);
    }
  }

  for (const bound of ['lag', 'wait'] as const) {
    // a wait of 1 ms is met on SQLite by a model that is current (the store answers in
    // microtasks), never on the MongoDB test server: the wait's retry is SQLite's only
    const test = bound === 'wait' && e2eDriver === 'mongo' ? it.skip : it;
    test(
      `should refuse it 503 timesheets_catching_up past the ${bound} bound, append nothing, and take the retry once the background catch-up is done`,
      async () => {
        const app = await lagging(
          bound === 'lag'
            ? { TIMESHEET_CORRECTION_MAX_LAG: '20' }
            : { TIMESHEET_CORRECTION_WAIT_MS: '1' },
          bound === 'lag' ? 300 : 3000,
        );
        try {
          const { t, siteId, seq } = app;
          const head = await t.app.get(LedgerService).headSeq(siteId);
          const send = () =>
            http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
              key: t.keys.admin,
              body: {
                correctionId: '7c0a4f7e-2b0d-4d8a-9f57-5a0f1c2e3d4b',
                action: 'add_check_out',
                target: { siteId, seq },
                at: `${DAY}T11:30:00.000Z`,
                reason: 'site register',
              },
            });
          const refused = await send();
          expect(refused.status).toBe(503);
          expect(refused.body.code).toBe('timesheets_catching_up');
          const retryAfter = Number(refused.headers.get('retry-after'));
          expect(retryAfter >= 1 && retryAfter <= 30).toBe(true);
          // nothing appended: the chain ends where the other replica left it
          expect(await t.app.get(LedgerService).headSeq(siteId)).toBe(head);

          // no read in between: the retries alone, taken once the catch-up the refusal left
          // running is done; appended then (201, not a duplicate of an earlier append)
          const taken = await retried(send);
          expect(taken.status).toBe(201);
          expect(taken.body.seq).toBe(head + 1);
          const payroll = await http(
            t.baseUrl,
            'GET',
            `/api/v5/sites/${siteId}/payroll?from=${DAY}&to=${DAY}&workerId=${WORKER}`,
            { key: t.keys.auditor },
          );
          expect(payroll.body.workers).toEqual([expect.objectContaining({ hours: 8 })]);
        } finally {
          await close(app);
        }
      },
      slowOnMongo(120_000),
    );
  }

  it(
    'should answer a retry of a correction already appended as its duplicate, lagging or not (its answer was lost: nothing to wait for)',
    async () => {
      const app = await lagging({ TIMESHEET_CORRECTION_MAX_LAG: '20' }, 0);
      try {
        const { t, siteId, seq } = app;
        const send = () =>
          http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
            key: t.keys.admin,
            body: {
              correctionId: '4d1f0c3a-8e2b-4f6d-9a1c-2b3e4f5a6b7c',
              action: 'add_check_out',
              target: { siteId, seq },
              at: `${DAY}T11:30:00.000Z`,
              reason: 'site register',
            },
          });
        const first = await send();
        expect(first.status).toBe(201);
        // then the other replica's syncs: this server's model is now far behind
        await appendElsewhere(t, siteId, 300);
        const again = await send();
        expect(again.status).toBe(200);
        expect(again.body).toMatchObject({ status: 'duplicate', seq: first.body.seq });
      } finally {
        await close(app);
      }
    },
    slowOnMongo(120_000),
  );

  it(
    "should answer another process's rebuild of the site as timesheets_rebuilding, however far behind the model is",
    async () => {
      const app = await lagging({ TIMESHEET_CORRECTION_MAX_LAG: '20' }, 300);
      try {
        const { t, siteId, seq } = app;
        // `npm run timesheets:rebuild` in another process holds the site (its lease live)
        const now = Date.now();
        const mark = await t.app
          .get(TimesheetRepository, { strict: false })
          .startRebuild(siteId, 'another-process', now + 60_000, now);
        expect(mark).toBeDefined();
        const refused = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
          key: t.keys.admin,
          body: {
            action: 'add_check_out',
            target: { siteId, seq },
            at: `${DAY}T11:30:00.000Z`,
            reason: 'site register',
          },
        });
        expect(refused.status).toBe(503);
        expect(refused.body.code).toBe('timesheets_rebuilding');
      } finally {
        await close(app);
      }
    },
    slowOnMongo(120_000),
  );
});
