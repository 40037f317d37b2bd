import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LedgerService, PendingLogEntry } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { MongoStore, Store } from '@app/persistence';
import {
  e2eDriver,
  http,
  pollUntil,
  slowOnMongo,
  startTestApp,
  storeEnv,
  TestApp,
} from './support/test-app';
import { recordWorkersOf } from './support/ledger-workers';
import { createSite } from './support/timesheet-client';

/** Workers and days of the site (fewer on the MongoDB test server, which scans in Python). */
const WORKERS = e2eDriver === 'mongo' ? 8 : 60;
const DAYS = e2eDriver === 'mongo' ? 8 : 28;
const DAY = Array.from({ length: DAYS }, (_, i) => `2026-02-${String(1 + i).padStart(2, '0')}`);
const PERIOD = `from=${DAY[0]}&to=${DAY[DAYS - 1]}`;
const workerIds = Array.from({ length: WORKERS }, (_, i) => `${String(i).padStart(24, 'a')}`);
/** Each worker's shift: 09:00 IST to 4–9 hours later, every day. */
const hoursOf = (i: number) => 4 + (i % 6);

/** Answers of the probes: `ok` (200/201 with the right numbers) or the refusal's code. */
type Outcome = 'ok' | 'timesheets_rebuilding';

/**
 * `npm run timesheets:rebuild` is another process on the API's store. While it rebuilds a site,
 * the site's timesheet reads (JSON page, CSV, payroll) and corrections must answer 503
 * `timesheets_rebuilding` (with Retry-After) or the right numbers, never a partial read model's;
 * afterwards they answer right. A rebuild that dies holding the mark blocks the site only until
 * its lease expires; the API then finishes the site from what the rebuild stored.
 */
describe('timesheet reads and corrections while `timesheets:rebuild` runs in another process (e2e)', () => {
  let dataDir: string;
  let t: TestApp;
  let siteId: string;
  /** The check-ins, targets of the corrections in turn (a moved punch may be moved again). */
  const checkIns: { seq: number; at: string }[] = [];
  let corrected = 0;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-rebuild-lease-'));
    t = await startTestApp({ DATA_DIR: dataDir });
    ({ siteId } = await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata'));
    const ledger = t.app.get(LedgerService);
    const entries: PendingLogEntry[] = [];
    for (const day of DAY) {
      workerIds.forEach((workerId, i) => {
        const inAt = Date.parse(`${day}T03:30:00.000Z`);
        entries.push(
          punchEntry({
            siteId,
            workerId,
            type: 'check_in',
            timestamp: new Date(inAt).toISOString(),
          }),
          punchEntry({
            siteId,
            workerId,
            type: 'check_out',
            timestamp: new Date(inAt + hoursOf(i) * 3_600_000).toISOString(),
          }),
        );
      });
    }
    await recordWorkersOf(t.app, entries);
    for (let i = 0; i < entries.length; i += 500) {
      const results = await ledger.append(entries.slice(i, i + 500));
      for (const r of results) {
        const data = r.log.data as { type?: string; timestamp?: string };
        if (data.type === 'check_in') checkIns.push({ seq: r.log.seq, at: data.timestamp! });
      }
    }
  }, slowOnMongo(120_000));
  afterAll(async () => {
    const store = t?.app.get(Store);
    if (store instanceof MongoStore) await store.connection.dropDatabase();
    await t?.close({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The rebuild command, as an operator runs it, on the API's store. */
  const rebuildJob = (env: Record<string, string> = {}): ChildProcess =>
    spawn(process.execPath, ['-r', '@swc-node/register', 'scripts/timesheets-rebuild.ts'], {
      cwd: join(__dirname, '..'),
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATA_DIR: dataDir,
        ...storeEnv(dataDir),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const exitOf = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });

  /** A 503 must be the rebuild's, with a Retry-After; anything else fails the test. */
  const refused = (status: number, headers: Headers, body: unknown): Outcome => {
    expect({ status, code: (body as { code?: string })?.code }).toEqual({
      status: 503,
      code: 'timesheets_rebuilding',
    });
    expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    return 'timesheets_rebuilding';
  };

  const probes: Record<string, () => Promise<Outcome>> = {
    page: async () => {
      const res = await http(
        t.baseUrl,
        'GET',
        `/api/v5/sites/${siteId}/timesheets?${PERIOD}&limit=200`,
        {
          key: t.keys.auditor,
        },
      );
      if (res.status !== 200) return refused(res.status, res.headers, res.body);
      const days = res.body.days as { workerId: string; hours: number }[];
      // the first page of (workerId, day) order: full, every day its worker's hours
      expect(days).toHaveLength(Math.min(200, WORKERS * DAYS));
      for (const d of days) expect(d.hours).toBe(hoursOf(workerIds.indexOf(d.workerId)));
      return 'ok';
    },
    payroll: async () => {
      const res = await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll?${PERIOD}`, {
        key: t.keys.auditor,
      });
      if (res.status !== 200) return refused(res.status, res.headers, res.body);
      const workers = res.body.workers as {
        workerId: string;
        hours: number;
        daysPresent: number;
      }[];
      expect(workers.map((w) => [w.workerId, w.hours, w.daysPresent]).sort()).toEqual(
        workerIds.map((id, i) => [id, hoursOf(i) * DAYS, DAYS]).sort(),
      );
      return 'ok';
    },
    csv: async () => {
      const res = await fetch(`${t.baseUrl}/api/v5/sites/${siteId}/timesheets.csv?${PERIOD}`, {
        headers: { 'x-api-key': t.keys.auditor },
      });
      if (res.status !== 200) return refused(res.status, res.headers, await res.json());
      // a CSV cut off mid-stream (a rebuild that started after its first page) fails the read
      const text = await res.text().catch(() => undefined);
      if (text === undefined) return 'timesheets_rebuilding';
      const rows = text.trimEnd().split('\r\n').slice(1);
      expect(rows).toHaveLength(WORKERS * DAYS);
      for (const row of rows) {
        const [workerId, , , , , , hours] = row.split(',');
        expect(Number(hours)).toBe(hoursOf(workerIds.indexOf(workerId)));
      }
      return 'ok';
    },
    correction: async () => {
      // a move of a check-in to the time it was recorded at: the hours stay what they were
      const target = checkIns[corrected++ % checkIns.length];
      const res = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
        key: t.keys.admin,
        body: {
          action: 'move',
          target: { siteId, seq: target.seq },
          at: target.at,
          reason: 'site register',
        },
      });
      if (res.status === 201) return 'ok';
      return refused(res.status, res.headers, res.body);
    },
  };

  /** Runs every probe in a loop of its own until `until` settles; the outcomes by probe. */
  const probeWhile = async (until: Promise<unknown>) => {
    let done = false;
    void until.finally(() => (done = true));
    const seen: Record<string, Outcome[]> = {};
    await Promise.all(
      Object.entries(probes).map(async ([name, probe]) => {
        seen[name] = [];
        while (!done) seen[name].push(await probe());
      }),
    );
    return seen;
  };

  it(
    'should answer 503 timesheets_rebuilding or the right numbers while it runs, and the right numbers after',
    async () => {
      for (const probe of Object.values(probes)) expect(await probe()).toBe('ok');
      const job = rebuildJob();
      let stderr = '';
      job.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = exitOf(job);
      const seen = await probeWhile(exited);
      expect({ code: await exited, stderr }).toEqual({ code: 0, stderr: '' });
      // the rebuild overlapped the probes: they were refused (a probe whose answer the client
      // was still reading while a short rebuild came and went may not have been: each path's
      // refusal is held to a live mark in the next test), and none answered wrong numbers (a
      // wrong answer fails inside the probe)
      expect(Object.values(seen).flat()).toContain('timesheets_rebuilding');
      for (const probe of Object.values(probes)) expect(await probe()).toBe('ok');
      const mark = await t.app.get(TimesheetRepository, { strict: false }).rebuildMark(siteId);
      expect(mark).toMatchObject({ generation: 1, expiresAt: 0 });
    },
    slowOnMongo(120_000),
  );

  it(
    'should block the site only until the lease of a rebuild that died expires, then answer the right numbers',
    async () => {
      const repo = t.app.get(TimesheetRepository, { strict: false });
      const before = (await repo.rebuildMark(siteId))?.generation ?? 0;
      // a lease of seconds, so that what is left of it when the job is killed outlasts the first
      // probe on a loaded machine too (MongoDB's test server included)
      const job = rebuildJob({ TIMESHEET_REBUILD_LEASE_SECONDS: '20' });
      const exited = exitOf(job);
      // killed once it holds the mark and has stored part of the site again
      let killed = false;
      while (!killed && job.exitCode === null) {
        const mark = await repo.rebuildMark(siteId);
        if (mark && mark.generation > before) {
          const { count } = await repo.progress(siteId);
          if (count > 0 && count < WORKERS * DAYS * 2) {
            job.kill('SIGKILL');
            killed = true;
          }
        }
      }
      await exited;
      expect(killed).toBe(true);
      // it died holding the mark: the lease had not ended
      const mark = await repo.rebuildMark(siteId);
      expect(mark).toMatchObject({ generation: before + 1 });
      expect(mark!.expiresAt).toBeGreaterThan(0);
      // while its lease lasts, every read path and a correction answer the rebuild's 503
      const asserted: string[] = [];
      for (const [name, probe] of Object.entries(probes)) {
        if (mark!.expiresAt <= Date.now() + 1000) break; // a slow machine: the lease ran out
        expect({ name, outcome: await probe() }).toEqual({
          name,
          outcome: 'timesheets_rebuilding',
        });
        asserted.push(name);
      }
      // the lease (20 s) outlasts at least the first probe on any machine this runs on
      expect(asserted.length).toBeGreaterThan(0);
      // once it expired: the right numbers again, every probe
      const status = await pollUntil(
        async () =>
          (
            await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll?${PERIOD}`, {
              key: t.keys.auditor,
            })
          ).status,
        (s) => s === 200,
      );
      expect(status).toBe(200);
      for (const probe of Object.values(probes)) expect(await probe()).toBe('ok');
    },
    slowOnMongo(120_000),
  );
});
