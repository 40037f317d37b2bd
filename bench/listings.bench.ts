/**
 * Listings at LISTING_ROWS rows (1M by default) per table, in a temp SQLite file filled with
 * raw inserts: fraud events (every documented filter), worker devices, kiosks, the vault
 * audit and timesheet worker-days (one site, 1,000 workers, LISTING_ROWS / 1,000 days each;
 * another of 5,000 workers × 5 busy days, bodies of 40 punches: see
 * bench/support/timesheet-day-pages.ts), first page and deep pages, through our repositories
 * (the ports the controllers call, rows mapped to domain objects) against the same page read
 * with raw SQL (a prepared keyset statement on the same indexes, rows as they come; for
 * worker-days the same skip-scan statements with nothing around them). Worker-days also run
 * the statements listDays ran before (each its own row) in the same run, after ours and raw
 * SQL, and a few pages each read on a fresh connection (its page cache empty). Ours and raw
 * SQL interleaved (each first in turn), medians.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { withIndexesRebuilt } from '@app/persistence/testing/indexes-rebuilt';
import { FRAUD_EVENT_TYPES, FraudEvent, FraudEventCriteria } from '@app/fraud/domain/fraud-event';
import { FraudSeal } from '@app/fraud/infrastructure/persistence/fraud-seal';
import { StoreMac } from '@app/tlog';
import { SqliteFraudEventRepository } from '@app/fraud/infrastructure/persistence/sqlite/repositories/sqlite-fraud-event.repository';
import { SqliteKioskDeviceRepository } from '@app/kiosk-registry/infrastructure/persistence/sqlite/repositories/sqlite-kiosk-device.repository';
import { SqliteWorkerDeviceRepository } from '@app/device-trust/infrastructure/persistence/sqlite/repositories/sqlite-worker-device.repository';
import { SqliteVaultAuditRepository } from '@app/vault/infrastructure/persistence/sqlite/repositories/sqlite-vault-audit.repository';
import { SqliteTimesheetRepository } from '@app/timesheets/infrastructure/persistence/sqlite/repositories/sqlite-timesheet.repository';
import {
  DAY,
  ListingCase,
  ROWS,
  START,
  TS_DAYS,
  TS_WORKERS,
  daySizes,
  fillDays,
  hexId,
  timesheetCases,
} from './support/timesheet-day-pages';
import { median } from './support/proc';
import { BenchRow, now, printRows } from './support';

const REPEATS = Number(process.env.LISTING_REPEATS ?? 15);
/** The tables `fill` fills. */
const FILLED = ['fraud_events', 'kiosk_devices', 'worker_devices', 'vault_audit'];

/**
 * Fills the four tables with raw inserts, 50,000 rows per transaction; run inside
 * withIndexesRebuilt (the indexes the migrations created, built after the rows: faster).
 */
function fill(db: SqliteStore['db'], seal: FraudSeal): void {
  const insertMany = (sql: string, row: (i: number) => unknown[]) => {
    const statement = db.prepare(sql);
    const batch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) statement.run(...row(i));
    });
    for (let i = 0; i < ROWS; i += 50_000) batch(i, Math.min(ROWS, i + 50_000));
  };
  const common = FRAUD_EVENT_TYPES.slice(0, FRAUD_EVENT_TYPES.length - 1);
  insertMany(
    `INSERT INTO fraud_events (id, type, device_id, worker_id, site_id, packet_id, detail, at, tag)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    (i) => {
      const e: FraudEvent = {
        id: hexId(i),
        // the last type is rare: one event in 1,000
        type:
          i % 1000 === 7
            ? FRAUD_EVENT_TYPES[FRAUD_EVENT_TYPES.length - 1]
            : common[i % common.length],
        deviceId: `dev-${i % 10_000}`,
        workerId: `wrk-${i % 20_000}`,
        siteId: `site-${i % 50}`,
        packetId: `pkt-${i}`,
        detail: 'bench event',
        at: new Date(START + Math.floor((i / ROWS) * 365 * DAY)),
      };
      // the server's tag (FraudSeal): each listed row's is checked, as the server does
      return [
        e.id,
        e.type,
        e.deviceId,
        e.workerId,
        e.siteId,
        e.packetId,
        e.detail,
        e.at.toISOString(),
        seal.eventTag(e),
      ];
    },
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
     VALUES (?, ?, ?, ?, 'auditor', '127.0.0.1', 'bench', ?, ?, NULL, ?, ?, ?)`,
    // one record in 100 a refused anonymous read, one in 10 an upload by the relay
    (i) => [
      i + 1,
      hexId(i),
      `file-${i % 100_000}`,
      i % 100 === 0 ? 'anonymous' : i % 10 === 1 ? 'relay' : 'auditor:bench',
      i % 10 === 1 ? 'store' : 'read',
      i % 100 === 0 ? 'denied' : 'allowed',
      new Date(START + i * 1000).toISOString(),
      '0'.repeat(64),
      '1'.repeat(64),
    ],
  );
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mdai-bench-listings-'));
  const store = new SqliteStore(join(dir, 'listings.sqlite'));
  try {
    const seal = new FraudSeal(
      new StoreMac({ signingKey: generateKeyPairSync('ed25519').privateKey }),
    );
    const fraud = new SqliteFraudEventRepository(store, seal);
    const kiosks = new SqliteKioskDeviceRepository(store);
    const devices = new SqliteWorkerDeviceRepository(store);
    const audit = new SqliteVaultAuditRepository(store);
    const timesheets = new SqliteTimesheetRepository(store);
    let t = now();
    withIndexesRebuilt(store.db, FILLED, () => fill(store.db, seal));
    const keysMs = fillDays(store);
    process.stdout.write(
      `filled 4 × ${ROWS} rows and ${TS_WORKERS} × ${TS_DAYS} worker-days (and the busy site) in ${((now() - t) / 1000).toFixed(1)} s; the key index of worker-days (timesheets migration 3) built in ${(keysMs / 1000).toFixed(2)} s\n${daySizes(store.db)}\n`,
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
    const cases: ListingCase[] = [];
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
    const rawAuditResult = db.prepare(
      'SELECT * FROM vault_audit WHERE result = ? AND seq > ? ORDER BY seq LIMIT ?',
    );
    const rawAuditActor = db.prepare(
      "SELECT * FROM vault_audit WHERE actor = ? AND action = 'store' AND seq > ? ORDER BY seq LIMIT ?",
    );
    const rawAuditRarePair = db.prepare(
      "SELECT * FROM vault_audit WHERE actor = ? AND action = 'read' AND seq > ? ORDER BY seq LIMIT ?",
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
      {
        name: 'vault audit, refused records (1 in 100), page at 90% depth',
        ours: () => audit.listInOrder({ limit: 100, result: 'denied', afterSeq: deepSeq }),
        raw: () => rawAuditResult.all('denied', deepSeq, 100),
      },
      {
        name: 'vault audit, one actor + action (1 in 10), page at 90% depth',
        ours: () =>
          audit.listInOrder({ limit: 100, actor: 'relay', action: 'store', afterSeq: deepSeq }),
        raw: () => rawAuditActor.all('relay', deepSeq, 100),
      },
      {
        // the relay only stores and most records are reads: the pair is empty inside two
        // common values (one filter's index alone read all of the relay's tail)
        name: 'vault audit, a rare pair (actor=relay & action=read: none), page at 90% depth',
        ours: () =>
          audit.listInOrder({ limit: 100, actor: 'relay', action: 'read', afterSeq: deepSeq }),
        raw: () => rawAuditRarePair.all('relay', deepSeq, 100),
      },
    );

    const days = timesheetCases(store, timesheets);
    cases.push(...days.cases);

    const rows: BenchRow[] = [];
    let worst = 0;
    for (const c of cases) {
      const ours: number[] = [];
      const raw: number[] = [];
      const size = (await c.ours()).length;
      if (size !== c.raw().length || c.others?.some((o) => size !== o.read().length))
        throw new Error(`${c.name}: ours, raw SQL and the others disagree on the page size`);
      // ours and raw SQL interleaved, in turn first; the others after them (one that scans a
      // site evicts the page cache, which the one read after it would pay for)
      for (let i = 0; i < REPEATS; i++) {
        for (const which of i % 2 === 0 ? ['ours', 'raw'] : ['raw', 'ours']) {
          t = now();
          if (which === 'ours') await c.ours();
          else c.raw();
          (which === 'ours' ? ours : raw).push(now() - t);
        }
      }
      worst = Math.max(worst, median(ours));
      rows.push({ metric: c.name, ours: median(ours), baseline: median(raw), unit: 'ms' });
      for (const other of c.others ?? []) {
        const times: number[] = [];
        for (let i = 0; i < REPEATS; i++) {
          t = now();
          other.read();
          times.push(now() - t);
        }
        rows.push({
          metric: `${c.name}: ${other.label}`,
          ours: median(times),
          baseline: median(raw),
          unit: 'ms',
        });
      }
    }
    rows.push(...(await days.cold(REPEATS)));

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
