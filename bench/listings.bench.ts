/**
 * Listings at LISTING_ROWS rows (1M by default) per table, in a temp SQLite file filled with
 * raw inserts: fraud events (every documented filter), worker devices, kiosks, the vault
 * audit and timesheet worker-days (one site, 1,000 workers, LISTING_ROWS / 1,000 days each),
 * first page and deep pages, through our repositories (the ports the controllers call, rows
 * mapped to domain objects) against the same page read with raw SQL (a prepared keyset
 * statement on the same indexes, rows as they come; for worker-days the same skip-scan
 * statements with nothing around them). Worker-days also run the statement listDays ran
 * before (one ORDER BY over the site's key, as it ran it) in the same run, after ours and
 * raw SQL. Ours and raw SQL interleaved (each first in turn), medians.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LimitedStatements, SqliteStore } from '@app/persistence';
import { FRAUD_EVENT_TYPES, FraudEventCriteria } from '@app/fraud/domain/fraud-event';
import { SqliteFraudEventRepository } from '@app/fraud/infrastructure/persistence/sqlite/repositories/sqlite-fraud-event.repository';
import { SqliteKioskDeviceRepository } from '@app/kiosk-registry/infrastructure/persistence/sqlite/repositories/sqlite-kiosk-device.repository';
import { SqliteWorkerDeviceRepository } from '@app/device-trust/infrastructure/persistence/sqlite/repositories/sqlite-worker-device.repository';
import { SqliteVaultAuditRepository } from '@app/vault/infrastructure/persistence/sqlite/repositories/sqlite-vault-audit.repository';
import {
  SqliteTimesheetRepository,
  TIMESHEET_DAY_SQL,
} from '@app/timesheets/infrastructure/persistence/sqlite/repositories/sqlite-timesheet.repository';
import { DayQuery } from '@app/timesheets/infrastructure/persistence/timesheet.repository';
import {
  dayFromBody,
  dayToBody,
} from '@app/timesheets/infrastructure/persistence/timesheet-stored';
import { median } from './support/proc';
import { BenchRow, now, printRows } from './support';

const ROWS = Number(process.env.LISTING_ROWS ?? 1_000_000);
const REPEATS = Number(process.env.LISTING_REPEATS ?? 15);
const DAY = 86_400_000;
const START = Date.parse('2025-01-01T00:00:00Z');
/** Timesheet worker-days: one site of TS_WORKERS workers, TS_DAYS days of history each. */
const TS_SITE = 'site-ts';
const TS_WORKERS = 1000;
const TS_DAYS = Math.max(14, Math.round(ROWS / TS_WORKERS));
const hexId = (i: number) => i.toString(16).padStart(24, '0');
const dayAt = (d: number) => new Date(START + d * DAY).toISOString().slice(0, 10);

/** TS_WORKERS × TS_DAYS worker-days of one site (and a day of two sites around it), in key order. */
function fillDays(store: SqliteStore): void {
  const db = store.db;
  const insert = db.prepare(
    'INSERT INTO timesheet_days (site_id, worker_id, day, worked_seconds, body) VALUES (?, ?, ?, ?, ?)',
  );
  const row = (site: string, w: number, d: number) => {
    const workerId = hexId(w);
    const inAt = START + d * DAY + 3.5 * 3600_000;
    const seq = (w * TS_DAYS + d) * 2 + 1;
    const body = dayToBody({
      siteId: site,
      workerId,
      day: dayAt(d),
      shifts: [
        { inSeq: seq, in: inAt, outSeq: seq + 1, out: inAt + 9 * 3600_000, seconds: 32_400 },
      ],
      workedSeconds: 32_400,
      firstIn: inAt,
      lastOut: inAt + 9 * 3600_000,
      flags: [],
      corrected: false,
      seqs: [seq, seq + 1],
      packets: [
        [`${hexId(seq)}-in`, seq],
        [`${hexId(seq)}-out`, seq + 1],
      ],
    });
    insert.run(site, workerId, dayAt(d), 32_400, body);
  };
  const batch = db.transaction((from: number, to: number) => {
    for (let w = from; w < to; w++) for (let d = 0; d < TS_DAYS; d++) row(TS_SITE, w, d);
  });
  db.transaction(() => row('site-tr', 0, 0))();
  for (let w = 0; w < TS_WORKERS; w += 20) batch(w, Math.min(TS_WORKERS, w + 20));
  db.transaction(() => row('site-tz', 0, 0))();
}

/**
 * Fills the four tables with raw inserts, 50,000 rows per transaction; the indexes the
 * migrations created are dropped first and rebuilt after (the same indexes, built faster).
 */
function fill(store: SqliteStore): void {
  const db = store.db;
  const indexes = db
    .prepare<[], { name: string; sql: string }>(
      `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
       AND tbl_name IN ('fraud_events', 'kiosk_devices', 'worker_devices', 'vault_audit')`,
    )
    .all();
  for (const index of indexes) db.exec(`DROP INDEX ${index.name}`);
  const insertMany = (sql: string, row: (i: number) => unknown[]) => {
    const statement = db.prepare(sql);
    const batch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) statement.run(...row(i));
    });
    for (let i = 0; i < ROWS; i += 50_000) batch(i, Math.min(ROWS, i + 50_000));
  };
  const common = FRAUD_EVENT_TYPES.slice(0, FRAUD_EVENT_TYPES.length - 1);
  insertMany(
    `INSERT INTO fraud_events (id, type, device_id, worker_id, site_id, packet_id, detail, at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    (i) => [
      hexId(i),
      // the last type is rare: one event in 1,000
      i % 1000 === 7 ? FRAUD_EVENT_TYPES[FRAUD_EVENT_TYPES.length - 1] : common[i % common.length],
      `dev-${i % 10_000}`,
      `wrk-${i % 20_000}`,
      `site-${i % 50}`,
      `pkt-${i}`,
      'bench event',
      new Date(START + Math.floor((i / ROWS) * 365 * DAY)).toISOString(),
    ],
  );
  const pem = `-----BEGIN PUBLIC KEY-----\n${randomBytes(270).toString('base64')}\n-----END PUBLIC KEY-----`;
  insertMany(
    `INSERT INTO kiosk_devices (id, device_id, public_key_pem, key_fingerprint, status, created_at, updated_at)
     VALUES (?, ?, ?, ?, 'active', ?, ?)`,
    (i) => {
      const at = new Date(START + i * 1000).toISOString();
      return [hexId(i), `K-${String(i).padStart(7, '0')}`, pem, hexId(i).repeat(2), at, at];
    },
  );
  insertMany(
    `INSERT INTO worker_devices (id, device_id, user_kind, user_id, site_ids, fingerprint, sealed_secret, trust_score, is_blocked, last_seen, last_ip, created_at)
     VALUES (?, ?, 'worker', ?, '["site-1"]', ?, 'v1:sealed', 100, 0, NULL, NULL, ?)`,
    (i) => [
      hexId(i),
      `D-${String(i).padStart(7, '0')}`,
      `wrk-${i}`,
      JSON.stringify({ os: 'android', model: 'bench', simHash: `sim-${i}` }),
      new Date(START + i * 1000).toISOString(),
    ],
  );
  insertMany(
    `INSERT INTO vault_audit (seq, id, file_id, actor, role, ip, purpose, action, result, reason, at, prev_hash, record_hash)
     VALUES (?, ?, ?, 'auditor:bench', 'auditor', '127.0.0.1', 'bench', 'read', 'allowed', NULL, ?, ?, ?)`,
    (i) => [
      i + 1,
      hexId(i),
      `file-${i % 100_000}`,
      new Date(START + i * 1000).toISOString(),
      '0'.repeat(64),
      '1'.repeat(64),
    ],
  );
  for (const index of indexes) db.exec(index.sql);
}

interface Case {
  name: string;
  ours: () => Promise<unknown[]>;
  raw: () => unknown[];
  /** The same page as the code before this listing's rewrite read it (its own row). */
  before?: () => unknown[];
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mdai-bench-listings-'));
  const store = new SqliteStore(join(dir, 'listings.sqlite'));
  try {
    const fraud = new SqliteFraudEventRepository(store);
    const kiosks = new SqliteKioskDeviceRepository(store);
    const devices = new SqliteWorkerDeviceRepository(store);
    const audit = new SqliteVaultAuditRepository(store);
    const timesheets = new SqliteTimesheetRepository(store);
    let t = now();
    fill(store);
    fillDays(store);
    process.stdout.write(
      `filled 4 × ${ROWS} rows and ${TS_WORKERS} × ${TS_DAYS} worker-days in ${((now() - t) / 1000).toFixed(1)} s\n`,
    );
    const db = store.db;

    // the raw-SQL baseline of the fraud listing: the keyset as a row value on (col, at, id)
    const rawFraud = (column: string | undefined) =>
      db.prepare(
        `SELECT * FROM fraud_events WHERE ${column ? `${column} = ? AND ` : ''}(at, id) < (?, ?)
         ORDER BY at DESC, id DESC LIMIT ?`,
      );
    const deepCursor = (where: string, params: unknown[]) => {
      // the cursor of a page at 90% depth (found with OFFSET, not timed)
      const count = (
        db.prepare(`SELECT count(*) AS n FROM fraud_events ${where}`).get(...params) as {
          n: number;
        }
      ).n;
      const row = db
        .prepare(
          `SELECT at, id FROM fraud_events ${where} ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?`,
        )
        .get(...params, Math.floor(count * 0.9)) as { at: string; id: string };
      return { at: new Date(row.at), id: row.id };
    };
    const MAX = { at: new Date('9999-01-01T00:00:00Z'), id: 'z' };
    const rare = FRAUD_EVENT_TYPES[FRAUD_EVENT_TYPES.length - 1];
    const fraudFilters: Array<[string, Partial<FraudEventCriteria>, string | undefined, string]> = [
      ['no filter', {}, undefined, ''],
      ['type (common)', { type: FRAUD_EVENT_TYPES[0] }, 'type', FRAUD_EVENT_TYPES[0]],
      ['type (rare, 0.1%)', { type: rare }, 'type', rare],
      ['deviceId', { deviceId: 'dev-42' }, 'device_id', 'dev-42'],
      ['workerId', { workerId: 'wrk-42' }, 'worker_id', 'wrk-42'],
      ['siteId', { siteId: 'site-7' }, 'site_id', 'site-7'],
    ];
    const cases: Case[] = [];
    for (const [name, filter, column, value] of fraudFilters) {
      const where = column ? `WHERE ${column} = ?` : '';
      const whereParams = column ? [value] : [];
      const deep = deepCursor(where, whereParams);
      const raw = rawFraud(column);
      for (const [page, before] of [
        ['first page', undefined],
        ['page at 90% depth', deep],
      ] as const) {
        const cursor = before ?? MAX;
        cases.push({
          name: `fraud events, ${name}, ${page}`,
          ours: () => fraud.listRecent({ ...filter, limit: 100, before }),
          raw: () => raw.all(...whereParams, cursor.at.toISOString(), cursor.id, 100),
        });
      }
    }
    const window = {
      from: new Date(START + 100 * DAY),
      to: new Date(START + 130 * DAY),
    };
    const rawWindow = db.prepare(
      `SELECT * FROM fraud_events WHERE at >= ? AND at <= ? ORDER BY at DESC, id DESC LIMIT ?`,
    );
    cases.push({
      name: 'fraud events, from + to (30 days), first page',
      ours: () => fraud.listRecent({ ...window, limit: 100 }),
      raw: () => rawWindow.all(window.from.toISOString(), window.to.toISOString(), 100),
    });
    const rawKiosks = db.prepare(
      'SELECT * FROM kiosk_devices WHERE device_id > ? ORDER BY device_id LIMIT ?',
    );
    const rawDevices = db.prepare(
      'SELECT * FROM worker_devices WHERE device_id > ? ORDER BY device_id LIMIT ?',
    );
    const rawAudit = db.prepare('SELECT * FROM vault_audit WHERE seq > ? ORDER BY seq LIMIT ?');
    const rawAuditFile = db.prepare(
      'SELECT * FROM vault_audit WHERE file_id = ? AND seq > ? ORDER BY seq LIMIT ?',
    );
    const deepKiosk = `K-${String(Math.floor(ROWS * 0.9)).padStart(7, '0')}`;
    const deepDevice = `D-${String(Math.floor(ROWS * 0.9)).padStart(7, '0')}`;
    const deepSeq = Math.floor(ROWS * 0.9);
    cases.push(
      {
        name: 'kiosks, first page',
        ours: () => kiosks.list({ limit: 50 }),
        raw: () => rawKiosks.all('', 50),
      },
      {
        name: 'kiosks, page at 90% depth',
        ours: () => kiosks.list({ limit: 50, afterDeviceId: deepKiosk }),
        raw: () => rawKiosks.all(deepKiosk, 50),
      },
      {
        name: 'worker devices, first page',
        ours: () => devices.list({ limit: 50 }),
        raw: () => rawDevices.all('', 50),
      },
      {
        name: 'worker devices, page at 90% depth',
        ours: () => devices.list({ limit: 50, afterDeviceId: deepDevice }),
        raw: () => rawDevices.all(deepDevice, 50),
      },
      {
        name: 'vault audit, first page',
        ours: () => audit.listInOrder({ limit: 100 }),
        raw: () => rawAudit.all(0, 100),
      },
      {
        name: 'vault audit, page at 90% depth',
        ours: () => audit.listInOrder({ limit: 100, afterSeq: deepSeq }),
        raw: () => rawAudit.all(deepSeq, 100),
      },
      {
        name: 'vault audit, one file, after its 5th record',
        ours: () => audit.listInOrder({ limit: 100, fileId: 'file-42', afterSeq: 400_043 }),
        raw: () => rawAuditFile.all('file-42', 400_043, 100),
      },
    );

    const days = timesheetCases(db, timesheets);
    cases.push(...days.cases);

    const rows: BenchRow[] = [];
    let worst = 0;
    for (const c of cases) {
      const ours: number[] = [];
      const raw: number[] = [];
      const before: number[] = [];
      const size = (await c.ours()).length;
      if (size !== c.raw().length || (c.before && size !== c.before().length))
        throw new Error(`${c.name}: ours, raw SQL and before disagree on the page size`);
      // ours and raw SQL interleaved, in turn first; before after them (a scan of the site
      // that it is evicts the page cache, which the one read after it would pay for)
      for (let i = 0; i < REPEATS; i++) {
        for (const which of i % 2 === 0 ? ['ours', 'raw'] : ['raw', 'ours']) {
          t = now();
          if (which === 'ours') await c.ours();
          else c.raw();
          (which === 'ours' ? ours : raw).push(now() - t);
        }
      }
      for (let i = 0; c.before && i < REPEATS; i++) {
        t = now();
        c.before();
        before.push(now() - t);
      }
      worst = Math.max(worst, median(ours));
      rows.push({ metric: c.name, ours: median(ours), baseline: median(raw), unit: 'ms' });
      if (c.before) {
        rows.push({
          metric: `${c.name}: before (one statement over the site's key)`,
          ours: median(before),
          baseline: median(raw),
          unit: 'ms',
        });
      }
    }

    // a walk through every page of one filter: time per page stays flat when the walk is linear
    t = now();
    let before: FraudEventCriteria['before'];
    const perPage: number[] = [];
    for (;;) {
      const p0 = now();
      const page = await fraud.listRecent({ siteId: 'site-7', limit: 100, before });
      perPage.push(now() - p0);
      if (page.length < 100) break;
      before = { at: page[page.length - 1].at, id: page[page.length - 1].id };
    }
    const tenth = Math.max(1, Math.floor(perPage.length / 10));
    rows.push({
      metric: `fraud events, siteId, walk of all ${perPage.length} pages of 100: median ms per page, last 10% of pages vs first 10%`,
      ours: median(perPage.slice(-tenth)),
      baseline: median(perPage.slice(0, tenth)),
      unit: 'ms',
      note: `(last / first; whole walk ${((now() - t) / 1000).toFixed(2)} s)`,
    });
    rows.push(...(await days.walks()));
    printRows(
      `Listings at ${ROWS.toLocaleString('en')} rows per table (medians of ${REPEATS}; ratio = ours / raw SQL, lower is better; slowest of ours: ${worst.toFixed(2)} ms)`,
      rows,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The worker-day listing's cases: ours (the repository's listDays), raw SQL (the same
 * skip-scan statements, bodies as stored, the crew given sorted) and before (the statement
 * listDays ran before: one `ORDER BY worker_id, day` bounded on site_id only, with the period
 * and the keyset as filters, its limit written in, bodies parsed); and walks of every page,
 * ours and before.
 */
function timesheetCases(db: SqliteStore['db'], repo: SqliteTimesheetRepository) {
  type Row = [string, string | null, string | null];
  const prepare = (sql: string) => db.prepare<[Record<string, string>], Row>(sql).raw(true);
  const siteDays = prepare(TIMESHEET_DAY_SQL.siteDays);
  const crewDays = prepare(TIMESHEET_DAY_SQL.crewDays);
  const workerDaysAfter = prepare(TIMESHEET_DAY_SQL.workerDaysAfter);
  /** The same statements with nothing around them (bodies as stored, no bound on workers). */
  const raw = (q: DayQuery): string[] => {
    const out: string[] = [];
    const params = { site: q.siteId, from: q.fromDay, to: q.toDay, worker: '' };
    const reads: Array<() => Iterable<Row>> = [];
    const after = q.after;
    if (after) {
      params.worker = after.workerId;
      reads.push(() => workerDaysAfter.iterate({ ...params, after: after.day }));
    }
    const crew = q.workerIds?.filter((w) => !after || w > after.workerId);
    reads.push(() =>
      crew ? crewDays.iterate({ ...params, crew: JSON.stringify(crew) }) : siteDays.iterate(params),
    );
    for (const read of reads) {
      for (const [, , body] of read()) {
        if (body === null) continue;
        out.push(body);
        if (out.length === q.limit) return out;
      }
    }
    return out;
  };
  const oldPages = new LimitedStatements<{ body: string }>(db);
  /** listDays as it was: one statement, the period and keyset filtered over the site's key. */
  const before = (q: DayQuery) => {
    const where = ['site_id = ?', 'day >= ?', 'day <= ?'];
    const args: unknown[] = [q.siteId, q.fromDay, q.toDay];
    if (q.workerIds) {
      where.push(`worker_id IN (${q.workerIds.map(() => '?').join(',')})`);
      args.push(...q.workerIds);
    }
    if (q.after) {
      where.push('(worker_id > ? OR (worker_id = ? AND day > ?))');
      args.push(q.after.workerId, q.after.workerId, q.after.day);
    }
    const sql = `SELECT body FROM timesheet_days WHERE ${where.join(' AND ')} ORDER BY worker_id, day LIMIT ?`;
    return oldPages.all(sql, args, q.limit).map((r) => dayFromBody(r.body));
  };
  const mid = Math.floor(TS_DAYS / 2);
  const week = { siteId: TS_SITE, fromDay: dayAt(mid), toDay: dayAt(mid + 6), limit: 100 };
  const crew = Array.from({ length: TS_WORKERS / 20 }, (_, k) => hexId(k * 20));
  const queries: Array<[string, DayQuery]> = [
    [
      'a day with no rows (before the history)',
      { siteId: TS_SITE, fromDay: '2024-12-01', toDay: '2024-12-01', limit: 100 },
    ],
    ['one day (a row a worker), first page', { ...week, toDay: week.fromDay }],
    ['one week, first page', week],
    [
      'one week, page at 90% depth',
      { ...week, after: { workerId: hexId(Math.floor(TS_WORKERS * 0.9)), day: dayAt(mid + 3) } },
    ],
    [`one week, a crew of ${crew.length} workers, first page`, { ...week, workerIds: crew }],
  ];
  const cases: Case[] = queries.map(([name, q]) => ({
    name: `timesheet days, ${name}`,
    ours: async () => (await repo.listDays(q)).days,
    raw: () => raw(q),
    before: () => before(q),
  }));

  /** Every page of one week, ours (following next) and before (stopping at a short page). */
  const walks = async (): Promise<BenchRow[]> => {
    const out: BenchRow[] = [];
    for (const [label, page] of [
      ['ours', async (q: DayQuery) => repo.listDays(q)],
      [
        'before',
        async (q: DayQuery) => {
          const days = before(q);
          const last = days[days.length - 1];
          return days.length === q.limit
            ? { days, next: { workerId: last.workerId, day: last.day } }
            : { days };
        },
      ],
    ] as const) {
      const perPage: number[] = [];
      let cursor: DayQuery['after'];
      let total = 0;
      const t0 = now();
      do {
        const p0 = now();
        const p = await page({ ...week, after: cursor });
        perPage.push(now() - p0);
        total += p.days.length;
        cursor = p.next;
      } while (cursor);
      if (total !== TS_WORKERS * 7) throw new Error(`walk (${label}): ${total} days`);
      const tenth = Math.max(1, Math.floor(perPage.length / 10));
      out.push({
        metric: `timesheet days, one week, walk of all ${perPage.length} pages of 100 (${label}): median ms per page, last 10% of pages vs first 10%`,
        ours: median(perPage.slice(-tenth)),
        baseline: median(perPage.slice(0, tenth)),
        unit: 'ms',
        note: `(last / first; whole walk ${((now() - t0) / 1000).toFixed(2)} s)`,
      });
    }
    return out;
  };
  return { cases, walks };
}
