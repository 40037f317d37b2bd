/**
 * Timesheet CSV export: a month of a 1,000-worker site (2 punches a worker a day, 60,000
 * ledger entries) streamed as CSV through `GET /api/v5/sites/:siteId/timesheets.csv` on a real
 * server in this process, next to a plain scan of the same ledger rows (better-sqlite3 iterate
 * + JSON.parse, no read model, no HTTP) in the same run; rounds interleaved, medians. Peak
 * heap and RSS growth are sampled during each export, for periods of 1, 7 and 31 days: the
 * export holds one page of worker-days at a time, so memory does not follow the period.
 * Then the read model's catch-up: a rebuild of the month from its chain, and ONE_INSTANT
 * punches of one worker at one instant (default 20,000) taken from the store by a read, per
 * entry against the rebuild (a catch-up linear in the rows costs about the same per entry).
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '@app/api/bootstrap';
import { LedgerService, PendingLogEntry } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { AttendanceLogRepository } from '@app/offline-sync/infrastructure/persistence/attendance-log.repository';
import { TimesheetProjector } from '@app/timesheets';
import { WorkforceRepository } from '@app/workforce/infrastructure/persistence/workforce.repository';
import { heapMiB, now, printRows, rssMiB, settleGc } from './support';

const WORKERS = 1000;
const DAYS = 30;
const ROUNDS = 3;
/** Punches of one worker at one instant, taken by a catch-up (TIMESHEET_ONE_INSTANT). */
const ONE_INSTANT = Number(process.env.TIMESHEET_ONE_INSTANT ?? 20_000);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs `work` and returns its time and the RSS growth over the start (sampled every 5 ms). */
async function measured(work: () => Promise<number>) {
  await settleGc();
  const rss0 = rssMiB();
  let rssPeak = rss0;
  const timer = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB())), 5);
  const t0 = now();
  const rows = await work();
  const ms = now() - t0;
  clearInterval(timer);
  return { ms, rows, rss: Math.max(rssPeak, rssMiB()) - rss0 };
}

/**
 * Peak live heap of `work` over the start: a full GC every 20 ms, then heapUsed, so garbage
 * waiting for a collection does not count (separate runs from the timed ones).
 */
async function liveHeap(work: () => Promise<number>): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return NaN;
  await settleGc();
  const heap0 = heapMiB();
  let peak = heap0;
  const timer = setInterval(() => {
    gc();
    peak = Math.max(peak, heapMiB());
  }, 20);
  await work();
  clearInterval(timer);
  return peak - heap0;
}

export async function run(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdai-bench-timesheets-'));
  const { app, config } = await createApp({
    DATA_DIR: dataDir,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
  });
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  const key = config.auth.apiKeys.auditor[0];
  try {
    const site = (await (
      await fetch(`${base}/api/v5/sites`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': config.auth.apiKeys.admin[0] },
        body: JSON.stringify({
          name: 'bench',
          geo: { lat: 1, lng: 1 },
          radiusM: 100,
          timeZone: 'Asia/Kolkata',
        }),
      })
    ).json()) as { siteId: string };
    const siteId = site.siteId;
    const workers = Array.from({ length: WORKERS }, (_, i) => `b${String(i).padStart(23, '0')}`);
    // the workers exist, with a name and a phone: the export looks them up a page at a time
    const people = app.get(WorkforceRepository, { strict: false });
    for (const [i, id] of workers.entries()) {
      await people.createWorker(
        {
          id,
          name: `Worker ${i}, site "bench"`,
          phone: `+91 90000 ${String(i).padStart(5, '0')}`,
          siteIds: [siteId],
          trustScore: 50,
          sponsor: { kind: 'admin', actor: 'admin:bench' },
          status: 'active',
          createdAt: new Date(),
        },
        {
          codeHash: `bench-${id}`,
          personKind: 'worker',
          personId: id,
          expiresAt: new Date(Date.now() + 86_400_000),
        },
      );
    }
    const ledger = app.get(LedgerService);
    // a day's punches of the whole crew, in batches of 500, through the ledger's append path
    // (the read model is fed by its hook, as in production)
    // baseline: the same appends straight into the ledger store (no hook, no checkpoints),
    // to a second chain, interleaved day by day
    const store = app.get(AttendanceLogRepository, { strict: false });
    let ingestMs = 0;
    let storeMs = 0;
    const start = Date.parse('2026-03-01T03:30:00Z'); // 09:00 IST
    for (let d = 0; d < DAYS; d++) {
      const entries: PendingLogEntry[] = [];
      for (const [w, workerId] of workers.entries()) {
        for (const [type, offsetH] of [
          ['check_in', 0],
          ['check_out', 8 + (w % 4) / 4],
        ] as const) {
          const timestamp = new Date(
            start + d * 86_400_000 + offsetH * 3_600_000 + (w % 60) * 1000,
          ).toISOString();
          entries.push(
            punchEntry({
              siteId,
              workerId,
              deviceId: `dev-${w}`,
              type,
              timestamp,
              geo: { lat: 1, lng: 1, accuracyM: 5 },
            }),
          );
        }
      }
      const t0 = now();
      for (let i = 0; i < entries.length; i += 500) await ledger.append(entries.slice(i, i + 500));
      ingestMs += now() - t0;
      const copies = entries.map((e) => {
        const packetId = randomUUID();
        return { ...e, siteId: 'baseline-chain', packetId, data: { ...e.data, packetId } };
      });
      const t1 = now();
      for (let i = 0; i < copies.length; i += 500)
        await store.appendToChains(copies.slice(i, i + 500));
      storeMs += now() - t1;
    }
    const punches = WORKERS * DAYS * 2;

    const exportCsv = (from: string, to: string) => async () => {
      const res = await fetch(
        `${base}/api/v5/sites/${siteId}/timesheets.csv?from=${from}&to=${to}`,
        {
          headers: { 'x-api-key': key },
        },
      );
      if (res.status !== 200) throw new Error(`export answered ${res.status}`);
      let lines = 0;
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const c of decoder.decode(chunk, { stream: true })) if (c === '\n') lines += 1;
      }
      return lines - 1;
    };
    const db = new Database(join(dataDir, 'mdai.sqlite'), { readonly: true });
    const scan = async () => {
      let rows = 0;
      let bytes = 0;
      for (const row of db
        .prepare<[string], { seq: number; data: string; meta: string }>(
          'SELECT seq, data, meta FROM attendance_logs WHERE site_id = ? ORDER BY seq',
        )
        .iterate(siteId)) {
        const data = JSON.parse(row.data) as { workerId: string; timestamp: string; type: string };
        bytes += `${data.workerId},${data.timestamp},${data.type},${row.seq}\r\n`.length;
        rows += 1;
      }
      return rows + (bytes > 0 ? 0 : 0);
    };

    const month = { ms: [] as number[], heap: [] as number[], rss: [] as number[], rows: 0 };
    const plain = { ms: [] as number[], heap: [] as number[], rss: [] as number[], rows: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      const a = await measured(exportCsv('2026-03-01', '2026-03-31'));
      const b = await measured(scan);
      month.ms.push(a.ms);
      month.rss.push(a.rss);
      month.rows = a.rows;
      plain.ms.push(b.ms);
      plain.rss.push(b.rss);
      plain.rows = b.rows;
      month.heap.push(await liveHeap(exportCsv('2026-03-01', '2026-03-31')));
      plain.heap.push(await liveHeap(scan));
    }
    const periods: [string, string, string][] = [
      ['1 day', '2026-03-10', '2026-03-10'],
      ['7 days', '2026-03-10', '2026-03-16'],
      ['31 days', '2026-03-01', '2026-03-31'],
    ];
    const byPeriod: { label: string; rows: number; ms: number; heap: number; rss: number }[] = [];
    for (const [label, from, to] of periods) {
      const runs = [];
      const heaps = [];
      for (let r = 0; r < ROUNDS; r++) {
        runs.push(await measured(exportCsv(from, to)));
        heaps.push(await liveHeap(exportCsv(from, to)));
      }
      byPeriod.push({
        label,
        rows: runs[0].rows,
        ms: median(runs.map((x) => x.ms)),
        heap: median(heaps),
        rss: median(runs.map((x) => x.rss)),
      });
    }

    // catch-up: the read model rebuilt from the month's chain (a page of 1,000 links at a time),
    // against the plain scan of the same rows; then ONE_INSTANT punches of one worker at one
    // instant (every page reaches the same day: quadratic if each page recomputed that day)
    // written straight into the store, so a read catches them up
    const projector = app.get(TimesheetProjector);
    const rebuild = await measured(async () => projector.rebuildSite(siteId));
    const rescan = await measured(scan);
    const instantSite = 'bench-one-instant';
    const instant = '2026-03-05T03:30:00.000Z';
    for (let i = 0; i < ONE_INSTANT; i += 500) {
      await store.appendToChains(
        Array.from({ length: Math.min(500, ONE_INSTANT - i) }, (_, k) =>
          punchEntry({
            siteId: instantSite,
            workerId: workers[0],
            deviceId: 'dev-0',
            type: (i + k) % 2 === 0 ? 'check_in' : 'check_out',
            timestamp: instant,
            geo: { lat: 1, lng: 1, accuracyM: 5 },
          }),
        ),
      );
    }
    const catchUp = await measured(async () => {
      await projector.ensureReadable(instantSite);
      return ONE_INSTANT;
    });
    db.close();

    printRows(`Timesheet CSV: ${WORKERS} workers × ${DAYS} days (${punches} punches)`, [
      {
        metric: `export a month (${month.rows} worker-day rows) vs scan the ${plain.rows} ledger rows: time`,
        ours: median(month.ms),
        baseline: median(plain.ms),
        unit: 'ms',
      },
      {
        metric: 'same: peak live heap growth (full GC every 20 ms)',
        ours: median(month.heap),
        baseline: median(plain.heap),
        unit: 'MiB',
      },
      {
        metric: 'same: peak RSS growth',
        ours: median(month.rss),
        baseline: median(plain.rss),
        unit: 'MiB',
      },
      {
        metric: `append ${punches} entries, 500 a call: ledger + read model vs the bare ledger store`,
        ours: ingestMs,
        baseline: storeMs,
        unit: 'ms',
      },
      {
        metric: `rebuild the read model from the chain (${rebuild.rows} entries, catch-up) vs scan the ledger rows`,
        ours: rebuild.ms,
        baseline: rescan.ms,
        unit: 'ms',
      },
      {
        metric: `catch-up of ${ONE_INSTANT} punches of one worker at one instant vs the rebuild: µs per entry (1 = linear)`,
        ours: (catchUp.ms * 1000) / ONE_INSTANT,
        baseline: (rebuild.ms * 1000) / rebuild.rows,
        unit: 'µs',
      },
      ...byPeriod.map((p) => ({
        metric: `export ${p.label} (${p.rows} rows): time; peak live heap and RSS growth`,
        ours: p.ms,
        unit: 'ms',
        note: `${p.heap.toFixed(1)} MiB live heap, ${p.rss.toFixed(1)} MiB RSS`,
      })),
    ]);
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
