/**
 * Bench child of `timesheet-take.bench.ts`: the real API (createApp, production mode, its
 * secrets from the data dir) on a temp SQLite file, one site; each `batch` line on stdin appends
 * 500 punches of a new worker (one phone's sync batch: check-in/check-out every 400 ms) through
 * `LedgerService.append`, as the sync does, and answers `TAKE <main-thread CPU ms> <wall ms>` of
 * the read model's `take` of it (TimesheetProjector's ledger hook), read from the main thread's
 * `/proc/self/task/<pid>/schedstat` around it. `days` answers `DAYS <sha-256 of every stored
 * worker-day and entry>`, to check two sides built the same rows. Runs from either checkout.
 */
import Database from 'better-sqlite3';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { createApp } from '@app/api/bootstrap';
import { SECRETS_FILE } from '@app/common';
import { LedgerService } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { TimesheetProjector } from '@app/timesheets';
import { TimesheetRepository } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import { WorkforceService } from '@app/workforce';
import { storeSecrets } from './crew';

const BATCH = 500;

function mainCpuMs(): number {
  const pid = process.pid;
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdai-bench-take-'));
  storeSecrets(dataDir);
  const secrets = JSON.parse(readFileSync(join(dataDir, SECRETS_FILE), 'utf8')) as Record<
    string,
    string
  >;
  const { app } = await createApp({
    ...secrets,
    DATA_DIR: dataDir,
    NODE_ENV: 'production',
    PUBLIC_URL: 'https://bench.invalid',
    LOG_LEVEL: 'silent',
    ADMIN_API_KEYS: `bench-admin-${randomUUID()}`,
    DATABASE_URL: '',
    REDIS_URL: '',
  });
  await app.init();
  const workforce = app.get(WorkforceService);
  const create = workforce.createSite.bind(workforce) as (
    input: unknown,
  ) => Promise<{ id: string }>;
  const siteId = (await create({ name: 'take', geo: { lat: 1, lng: 1 }, radiusM: 100 })).id;
  const ledger = app.get(LedgerService);
  const projector: { take: (logs: unknown[]) => Promise<string[]> } = app.get<
    TimesheetProjector,
    never
  >(TimesheetProjector);
  const take = projector.take.bind(projector);
  let done: ((r: { cpu: number; ms: number }) => void) | undefined;
  projector.take = async (logs) => {
    const c0 = mainCpuMs();
    const t0 = performance.now();
    const r = await take(logs);
    done?.({ cpu: mainCpuMs() - c0, ms: performance.now() - t0 });
    return r;
  };
  // TAKE_SPLIT=1: each repository call's wall time inside the takes, summed per method
  const split = new Map<string, number>();
  if (process.env.TAKE_SPLIT === '1') {
    const repo: Record<string, unknown> = app.get<TimesheetRepository, never>(TimesheetRepository);
    const proto = Object.getPrototypeOf(repo) as Record<string, unknown>;
    for (const name of [
      'rebuildMark',
      'insertEntries',
      'versionsOf',
      'pendingBasis',
      'listPunches',
      'listOtherSitePunches',
      'listRecomputePunches',
      'findCorrectionsOf',
      'replaceDays',
    ]) {
      const f = proto[name];
      repo[name] = async (...args: unknown[]) => {
        const t = performance.now();
        try {
          return await (f as (...a: unknown[]) => Promise<unknown>).apply(repo, args);
        } finally {
          split.set(name, (split.get(name) ?? 0) + performance.now() - t);
        }
      };
    }
  }
  let n = 0;
  const t0 = Date.parse('2026-03-01T03:30:00Z');
  const session = new Session();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) =>
      session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))),
    );
  process.stdout.write(`READY ${siteId}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'batch') {
      const workerId = `w${String(n++).padStart(23, '0')}`;
      // a batch a few seconds after the last, as phones' batches of one sync run are
      const start = t0 + n * 5_000;
      const entries = Array.from({ length: BATCH }, (_, i) => {
        const entry = punchEntry({
          siteId,
          workerId,
          deviceId: `dev-${n}`,
          type: i % 2 === 0 ? 'check_in' : 'check_out',
          timestamp: new Date(start + i * 400).toISOString(),
          geo: { lat: 1.00001, lng: 1.00002, accuracyM: 5 },
        });
        // the same packet ids on both sides (a random one each made the rows the sides built,
        // which the bench checks equal, differ always)
        const packetId = `00000000-0000-4000-8000-${String(n * BATCH + i).padStart(12, '0')}`;
        entry.packetId = packetId;
        (entry.data as { packetId: string }).packetId = packetId;
        return entry;
      });
      const taken = new Promise<{ cpu: number; ms: number }>((resolve) => (done = resolve));
      await ledger.append(entries);
      const r = await taken;
      process.stdout.write(`TAKE ${r.cpu} ${r.ms}\n`);
    } else if (line === 'split') {
      process.stdout.write(`SPLIT ${JSON.stringify(Object.fromEntries(split))}\n`);
      split.clear();
    } else if (line === 'profile-start') {
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 100 });
      await post('Profiler.start');
      process.stdout.write('PROFILING\n');
    } else if (line.startsWith('profile-stop ')) {
      const { profile } = await post('Profiler.stop');
      writeFileSync(line.slice('profile-stop '.length), JSON.stringify(profile));
      process.stdout.write('PROFILED\n');
    } else if (line === 'days') {
      const db = new Database(join(dataDir, 'mdai.sqlite'), { readonly: true });
      const hash = createHash('sha256');
      for (const r of db
        .prepare(
          'SELECT worker_id, day, worked_seconds, body FROM timesheet_days ORDER BY worker_id, day',
        )
        .iterate() as Iterable<Record<string, unknown>>)
        // the body names the site, whose id differs by side
        hash.update(
          JSON.stringify([r.worker_id, r.day, r.worked_seconds, String(r.body).split(siteId)]),
        );
      for (const r of db
        .prepare('SELECT * FROM timesheet_entries ORDER BY site_id, seq')
        .iterate() as Iterable<Record<string, unknown>>)
        hash.update(JSON.stringify({ ...r, site_id: undefined, tag: undefined }));
      db.close();
      process.stdout.write(`DAYS ${hash.digest('hex')}\n`);
    } else if (line === 'stop') {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`take child failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
