/**
 * The timesheet read model's catch-up over a long chain (a rebuild, a fresh read-model store):
 * links per second and the longest event-loop stall, against a raw copy of the same rows.
 *
 * For each size (TSCATCHUP_LINKS, default 100,000; a comma list) one site's chain is written
 * straight into a data dir (`support/chain.ts`: 5,000 workers taking turns, 400 ms apart), with
 * the site registered by the API first and no read model. Each round copies that file for
 * each side and starts the API on it in a child (`support/serve-api.ts`); the side's first
 * timesheet read (`GET /api/v5/sites/:siteId/timesheets`) takes the whole chain
 * (`TimesheetProjector.catchUp`, the path of `rebuildSite` after its clear) and is timed to its
 * answer; the same page is then read again (its own cost, the catch-up done). Beside wall
 * time: the child's CPU (every thread, and its main thread's), and its longest event-loop delay
 * during the read (`monitorEventLoopDelay`, 1 ms resolution; on a loaded machine a wait for a
 * CPU counts too). The sides' worker-days are checked equal.
 * `BENCH_BEFORE_DIR=<an older checkout>` (e.g. `git archive main`, with a `node_modules`
 * link) adds its API in the same rounds. The baseline, in this process: every row of the chain
 * read in order, in pages of 1,000, its packet parsed and stored as a read-model entry with one
 * prepared INSERT per row, a transaction per page (no corrections, no days). Rounds rotate the
 * order (TSCATCHUP_ROUNDS, default 3); medians.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { SECRETS_FILE } from '@app/common';
import { TIMESHEET_ENTRY_COLUMNS } from '@app/timesheets/infrastructure/persistence/sqlite/mappers/timesheet.mapper';
import {
  dayFromBody,
  dayToBody,
} from '@app/timesheets/infrastructure/persistence/timesheet-stored';
import { BenchRow, median, now, printRows } from './support';
import { fillChain } from './support/chain';
import { startSyncBenchChild } from './support/crew';
import { mainThreadCpuMs, threadsCpuMs } from './support/proc';
import { walPeakRows, WalPeaks, walPeaks } from './support/wal-peaks';

interface Run {
  ms: number;
  cpuMs: number;
  mainCpuMs: number;
  maxStallMs: number;
  /** SHA-256 of every worker-day of the site, in (worker, day) order. */
  days: string;
  /** The answer's page read again right after (the catch-up done): its own cost, over HTTP. */
  pageMs: number;
  /** The WAL's peaks over the server's life (its /metrics; undefined on an older checkout). */
  peaks?: WalPeaks;
}

/** The API of `root` (default this checkout) on a copy of `template`; its first read timed. */
async function catchUpOnce(template: string, siteId: string, root?: string): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdai-bench-tscatchup-'));
  copyFileSync(template, join(dataDir, 'mdai.sqlite'));
  // the template's secrets with it: the keys its store was made with
  copyFileSync(join(dirname(template), SECRETS_FILE), join(dataDir, SECRETS_FILE));
  const api = await startSyncBenchChild('tscatchup', dataDir, root);
  try {
    const pid = api.child.proc.pid!;
    // the first read of a server (its route, guard, statements, compiled code) on a site of
    // no links, so the timed one is the catch-up's
    const warm = await fetch(
      `${api.base}/api/v5/sites/${api.siteId}/timesheets?from=2020-01-01&to=2020-01-01`,
      { headers: api.admin },
    );
    await warm.arrayBuffer();
    // BENCH_CPU_PROFILE=<file>: a V8 CPU profile of this side's API over the catch-up (the
    // last round's; open it in Chrome DevTools, or find the longest run between idle samples)
    const profile = root === undefined ? process.env.BENCH_CPU_PROFILE : undefined;
    if (profile) {
      api.child.send('profile-start');
      await api.child.expect('PROFILING', 30_000);
    }
    api.child.send('eld-start');
    await api.child.expect('ELD-STARTED');
    const cpu0 = threadsCpuMs(pid);
    const main0 = mainThreadCpuMs(pid);
    // a day with no days: the page visits 1,000 of the site's 5,000 workers
    const read = async () => {
      const res = await fetch(
        `${api.base}/api/v5/sites/${siteId}/timesheets?from=2020-01-01&to=2020-01-01`,
        { headers: api.admin },
      );
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`timesheet read answered ${res.status}`);
    };
    const t0 = now();
    await read();
    const ms = now() - t0;
    const cpuMs = threadsCpuMs(pid) - cpu0;
    const mainCpuMs = mainThreadCpuMs(pid) - main0;
    api.child.send('eld-stop');
    const eld = JSON.parse(await api.child.expect('ELD')) as { max: number };
    const peaks = await walPeaks(api.base);
    if (profile) {
      api.child.send(`profile-stop ${resolve(profile)}`);
      await api.child.expect('PROFILED', 120_000);
    }
    // the same page again, the catch-up done
    const p0 = now();
    await read();
    const pageMs = now() - p0;
    const db = new Database(join(dataDir, 'mdai.sqlite'), { readonly: true });
    const hash = createHash('sha256');
    for (const row of db
      .prepare<[string], { body: string }>(
        'SELECT body FROM timesheet_days WHERE site_id = ? ORDER BY worker_id, day',
      )
      .iterate(siteId))
      // as our code reads it: a side that stores days in an older form hashes the same
      hash.update(dayToBody(dayFromBody(row.body)));
    db.close();
    return { ms, cpuMs, mainCpuMs, maxStallMs: eld.max, days: hash.digest('hex'), pageMs, peaks };
  } finally {
    await api.close();
  }
}

/** The baseline: the chain's packets copied into the read model's entries by plain SQL. */
function rawCopy(template: string, siteId: string): { ms: number; cpuMs: number } {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdai-bench-tscatchup-raw-'));
  try {
    copyFileSync(template, join(dataDir, 'mdai.sqlite'));
    const db = new Database(join(dataDir, 'mdai.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const insert = db.prepare(
      `INSERT INTO timesheet_entries (${TIMESHEET_ENTRY_COLUMNS}) VALUES (${TIMESHEET_ENTRY_COLUMNS.split(
        ',',
      )
        .map(() => '?')
        .join(', ')})`,
    );
    // read in pages of 1,000 by seq, each page written before the next is read (one read
    // iterating the whole chain would hold its snapshot throughout: no checkpoint could then
    // finish, and each commit past 1,000 WAL pages would try one, fsyncs and all)
    const rows = db.prepare<[string, number], { seq: number; data: string; meta: string }>(
      'SELECT seq, data, meta FROM attendance_logs WHERE site_id = ? AND seq > ? ORDER BY seq LIMIT 1000',
    );
    const c0 = process.cpuUsage();
    const t0 = now();
    const page: unknown[][] = [];
    const store = db.transaction((batch: unknown[][]) => batch.forEach((r) => insert.run(r)));
    let after = 0;
    for (let read = rows.all(siteId, after); read.length > 0; read = rows.all(siteId, after)) {
      after = read[read.length - 1].seq;
      for (const r of read) {
        const data = JSON.parse(r.data) as {
          workerId: string;
          packetId: string;
          type: string;
          timestamp: string;
        };
        const meta = JSON.parse(r.meta) as { lowTrust?: boolean };
        const at = Date.parse(data.timestamp);
        page.push([
          siteId,
          r.seq,
          data.workerId,
          data.packetId,
          'punch',
          data.type,
          null,
          null,
          at,
          at,
          0,
          '[]',
          meta.lowTrust ? 1 : 0,
          null, // out_at: an added shift's end, none for a punch
        ]);
      }
      store(page.splice(0));
    }
    const ms = now() - t0;
    const used = process.cpuUsage(c0);
    db.close();
    return { ms, cpuMs: (used.user + used.system) / 1000 };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function size(links: number, rounds: number, beforeRoot?: string): Promise<BenchRow[]> {
  const templateDir = mkdtempSync(join(tmpdir(), `mdai-bench-tscatchup-${links}-`));
  try {
    // the site is the API's (its zone, its read access); its chain is written behind it
    const setup = await startSyncBenchChild('tscatchup', templateDir);
    await setup.child.stop();
    const template = join(templateDir, 'mdai.sqlite');
    const t0 = now();
    fillChain(template, setup.siteId, links);
    process.stderr.write(
      `tscatchup bench: ${links} links filled in ${((now() - t0) / 1000).toFixed(1)} s\n`,
    );
    const sides: Record<string, Run[]> = { ours: [], ...(beforeRoot ? { before: [] } : {}) };
    const raw: { ms: number; cpuMs: number }[] = [];
    const tasks = [
      async () => sides.ours.push(await catchUpOnce(template, setup.siteId)),
      async () => raw.push(rawCopy(template, setup.siteId)),
      ...(beforeRoot
        ? [async () => sides.before.push(await catchUpOnce(template, setup.siteId, beforeRoot))]
        : []),
    ];
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < tasks.length; k++) await tasks[(r + k) % tasks.length]();
      process.stderr.write(`tscatchup bench: ${links} links, round ${r + 1} of ${rounds}\n`);
    }
    const days = new Set(Object.values(sides).flatMap((runs) => runs.map((x) => x.days)));
    if (days.size !== 1) throw new Error('the sides built different worker-days');
    const rawMs = median(raw.map((x) => x.ms));
    const rawCpu = median(raw.map((x) => x.cpuMs));
    const rows: BenchRow[] = [];
    for (const [name, runs] of Object.entries(sides)) {
      const ms = median(runs.map((x) => x.ms));
      rows.push(
        {
          metric: `${name}: catch-up of ${links.toLocaleString('en')} links vs the raw copy: wall time`,
          ours: ms,
          baseline: rawMs,
          unit: 'ms',
          note: `(${Math.round((links * 1000) / ms).toLocaleString('en')} links/s; raw ${Math.round((links * 1000) / rawMs).toLocaleString('en')})`,
        },
        {
          metric: `${name}: same, CPU (the API's threads; the raw copy's process)`,
          ours: median(runs.map((x) => x.cpuMs)),
          baseline: rawCpu,
          unit: 'ms',
          note: `(main thread ${Math.round(median(runs.map((x) => x.mainCpuMs)))} ms)`,
        },
        {
          metric: `${name}: longest event-loop delay during the catch-up (max of rounds; median)`,
          ours: Math.max(...runs.map((x) => x.maxStallMs)),
          unit: 'ms',
          note: `(median ${median(runs.map((x) => x.maxStallMs)).toFixed(1)} ms: ${runs.map((x) => x.maxStallMs.toFixed(1)).join(', ')})`,
        },
        {
          metric: `${name}: the answer's page (a day with no days, 1,000 workers) read again right after, over HTTP (median)`,
          ours: median(runs.map((x) => x.pageMs)),
          unit: 'ms',
          note: `(${runs.map((x) => x.pageMs.toFixed(1)).join(', ')})`,
        },
      );
      const peaks = runs.flatMap((x) => (x.peaks ? [x.peaks] : []));
      rows.push(
        ...walPeakRows((what) => `${name}: ${what} during the catch-up vs the backstop`, peaks),
      );
    }
    if (sides.before) {
      rows.push({
        metric: 'before / ours, wall time (speed-up)',
        ours: median(sides.before.map((x) => x.ms)) / median(sides.ours.map((x) => x.ms)),
        unit: '×',
      });
    }
    return rows;
  } finally {
    rmSync(templateDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const sizes = (process.env.TSCATCHUP_LINKS ?? '100000').split(',').map(Number);
  const rounds = Number(process.env.TSCATCHUP_ROUNDS ?? 3);
  for (const links of sizes) {
    const rows = await size(links, rounds, process.env.BENCH_BEFORE_DIR);
    printRows(`Timesheet catch-up over ${links.toLocaleString('en')} links`, rows);
  }
}
