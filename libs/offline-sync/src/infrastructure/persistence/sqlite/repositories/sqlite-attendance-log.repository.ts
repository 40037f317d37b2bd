import { Inject, Injectable, OnApplicationShutdown, Optional } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import { Counter, jcs, MetricsRegistry } from '@app/common';
import { LimitedStatement, SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import {
  AttendanceLog,
  AttendanceMeta,
  entryKeyText,
  isPacketData,
  LedgerEntryData,
  LedgerEntryKey,
  ledgerDeviceOf,
  metaJcsOfEach,
  PendingLogEntry,
  StoredLinkText,
} from '../../../../domain/attendance-log';
import {
  defaultAppendThread,
  offlineSyncConfig,
  OfflineSyncSettings,
} from '../../../../offline-sync.config';
import { StoreMac } from '@app/tlog/store-mac';
import { SqliteAppendThread } from '../sqlite-append.thread';
import {
  AppendText,
  AppendTextResult,
  LinkMacKey,
  SqliteChainAppender,
} from '../sqlite-chain-appender';
import {
  AppendAtHeadResult,
  AppendResult,
  AttendanceLogRepository,
  confirmKey,
  dataHasKey,
  KEY_COPIES_DISAGREE_TEXT,
  keyCopiesDisagree,
  KnownLinks,
  PreviousKey,
  SiteHead,
  TaggedLink,
  TaggedLinkText,
} from '../../attendance-log.repository';
import {
  AttendanceLogRow,
  AttendanceLogSqliteMapper as Mapper,
  StoredTextColumns,
  TaggedTextRow,
} from '../mappers/attendance-log.mapper';
import {
  KEY_COPIES_AGREE,
  LEDGER_SQLITE_MIGRATIONS,
  PACKET_AT_MS,
  PACKET_DEVICE,
  PACKET_WORKER,
} from '../sqlite-ledger.migrations';

const worker = (table: string) => PACKET_WORKER.replace('data', `${table}.data`);
const atMs = (table: string) => PACKET_AT_MS.replace('data', `${table}.data`);

/**
 * Each worker's links from the instant of its last packet before `lo` (or `lo`) to `hi`, one
 * parameter: a JSON array of [workerId, lo, hi] (ms). Both steps seek the (worker, time,
 * packetId) index; `at_ms` comes back for ordering. `columns`: of the link (`l`).
 */
const previousOfWorkersSql = (columns: string, besides = '') => `WITH q (w, lo, hi) AS (
    SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)
  ), span (w, lo, hi) AS (
    SELECT w, coalesce((
      SELECT ${atMs('p')} FROM attendance_logs p
      WHERE ${worker('p')} = q.w AND ${atMs('p')} < q.lo
      ORDER BY ${atMs('p')} DESC LIMIT 1
    ), lo), hi FROM q
  )
  SELECT span.w AS w, ${atMs('l')} AS at_ms, ${columns} FROM span JOIN attendance_logs l
    ON ${worker('l')} = span.w AND ${atMs('l')} BETWEEN span.lo AND span.hi${besides}`;

/** The whole links (`findPreviousOfWorkers`). */
export const PREVIOUS_OF_WORKERS_SQL = previousOfWorkersSql('l.*');
/** Only what ordering and the fraud rules need: packet_id and data (`findPreviousDataOfWorkers`). */
export const PREVIOUS_DATA_OF_WORKERS_SQL = previousOfWorkersSql('l.packet_id, l.data');
/**
 * Only each row's place, `site_id` and `seq` (the primary key, which the worker-time index
 * holds): read from the index alone, no link (`findPreviousDataOfWorkers` with `known`).
 */
export const PREVIOUS_PLACES_OF_WORKERS_SQL = previousOfWorkersSql('l.packet_id, l.site_id, l.seq');
/**
 * The same, but for the links of one run of seqs of one site (held by the caller, who adds them):
 * passed over in the index, which holds each entry's primary key.
 */
export const PREVIOUS_PLACES_BESIDES_SQL = previousOfWorkersSql(
  'l.packet_id, l.site_id, l.seq',
  '\n    AND NOT (l.site_id = ? AND l.seq BETWEEN ? AND ?)',
);
/** The data of links by place: a JSON array of [siteId, seq] (one primary-key seek each). */
export const DATA_AT_PLACES_SQL = `SELECT l.site_id, l.seq, l.data FROM json_each(?)
  JOIN attendance_logs l ON l.site_id = json_each.value ->> 0 AND l.seq = json_each.value ->> 1`;

/** The distinct workers of one device's packets within [from, to] (ms). */
export const WORKERS_OF_DEVICE_SQL = `SELECT DISTINCT ${PACKET_WORKER} AS worker_id FROM attendance_logs
  WHERE ${PACKET_DEVICE} = ? AND ${PACKET_AT_MS} BETWEEN ? AND ?`;
/**
 * The same, but for the links of one run of seqs of one site (held by the caller): the (device,
 * time) index holds each entry's primary key (the table is `WITHOUT ROWID`), so the run's
 * entries are told apart in the index; SQLite still seeks each one's row before that test
 * (the worker is not in the index), but their `data` is never parsed.
 */
export const WORKERS_OF_DEVICE_BESIDES_SQL = `${WORKERS_OF_DEVICE_SQL}
  AND NOT (site_id = ? AND seq BETWEEN ? AND ?)`;

/** A chain's head seq (the primary key's last entry of the site; no row: an empty chain). */
export const HEAD_SEQ_SQL =
  'SELECT seq FROM attendance_logs WHERE site_id = ? ORDER BY seq DESC LIMIT 1';
/**
 * Up to `@limit` sites after `@after` with their head seqs: a walk of the primary key's distinct
 * site_ids, one seek per site (a GROUP BY would read every link).
 */
export const SITE_HEADS_SQL = `
  WITH RECURSIVE sites(site_id, n) AS (
    SELECT (SELECT MIN(site_id) FROM attendance_logs WHERE site_id > @after), 1
    UNION ALL
    SELECT (SELECT MIN(site_id) FROM attendance_logs WHERE site_id > sites.site_id), n + 1
      FROM sites WHERE sites.site_id IS NOT NULL AND n < @limit
  )
  SELECT site_id AS siteId,
    (SELECT seq FROM attendance_logs a WHERE a.site_id = sites.site_id ORDER BY seq DESC LIMIT 1) AS seq
  FROM sites WHERE site_id IS NOT NULL`;
/** A page of one site's chain, after a seq (the primary key's range). */
/**
 * A row's data text as hashed, if its key columns (packet_id, device_id: what the unique key and
 * the duplicate lookup read, and no hash covers) are the ones its data names (`ledgerDeviceOf`:
 * a packet's device, none for an entry with a kind); else a text that hashes to no recordHash,
 * so the link reads record_hash_mismatch (`KEY_COPIES_DISAGREE_TEXT`).
 */
const STORED_DATA = `CASE WHEN ${KEY_COPIES_AGREE} THEN data ELSE '${KEY_COPIES_DISAGREE_TEXT}' END AS data`;
export const CHAIN_PAGE_SQL =
  'SELECT * FROM attendance_logs WHERE site_id = ? AND seq > ? ORDER BY seq LIMIT ?';
/** seq fromSeq..toSeq of one site: the columns a link's hashed text is made of, and its tag. */
export const TAGGED_TEXTS_SQL = `SELECT site_id, seq, prev_hash, record_hash, ${STORED_DATA}, meta, mac, mac_kid
  FROM attendance_logs WHERE site_id = ? AND seq BETWEEN ? AND ? ORDER BY seq`;
/** The same page, only the columns a link's hashed text is made of. */
export const CHAIN_TEXT_PAGE_SQL = `SELECT site_id, seq, prev_hash, record_hash, ${STORED_DATA}, meta
  FROM attendance_logs WHERE site_id = ? AND seq > ? ORDER BY seq LIMIT ?`;

export { BY_KEYS_SQL } from '../sqlite-chain-appender';

/**
 * Appends waiting for the append thread at most; beyond, one is run in the request's thread. The
 * store's write turns hand it one append at a time (the others wait for their turn): a guard.
 */
const APPEND_QUEUE = 64;

/**
 * The SQLite ledger. Appends run in `SqliteChainAppender` (one BEGIN IMMEDIATE transaction per
 * call), on the append thread when there is one (`SqliteAppendThread`, `SYNC_APPEND_THREAD`),
 * else in the request's thread; reads run on the store's connection.
 */
@Injectable()
export class SqliteAttendanceLogRepository
  extends AttendanceLogRepository
  implements OnApplicationShutdown
{
  private readonly db: Database;
  private readonly appender: SqliteChainAppender;
  private readonly thread?: SqliteAppendThread;
  private readonly writeTurns: SqliteWriteTurns;
  private readonly store: SqliteStoreHandle;
  /** Appends by where they ran: on the append thread, or in the request's thread. */
  private readonly appends: Counter<'on'>;
  private readonly chainPage: LimitedStatement<[string, number], AttendanceLogRow>;
  /** The columns a link's hashed text is made of, as arrays (`raw`): verify and export read every link. */
  private readonly chainTextPage: LimitedStatement<[string, number], StoredTextColumns>;
  /**
   * Prepared on first use, then reused: one statement for a batch, one index range per worker
   * (a JSON array of [workerId, lowest atMs, highest atMs] of that worker's keys). The range
   * starts at the instant of the worker's last packet before the lowest key (one seek of the
   * (worker, time, packetId) index, covering) and ends at the highest key: every key's
   * predecessor is in it. `findPreviousOfWorkers` then picks each key's from those rows.
   */
  private previousOfWorkers?: Statement<[string], AttendanceLogRow & WorkerTimedRow>;
  /** `readTaggedTexts`' statement (prepared on first use). */
  private taggedTexts?: Statement<[string, number, number], TaggedTextRow>;
  /** `headSeq`'s statement (prepared on first use). */
  private headSeqOf?: Statement<[string], { seq: number }>;
  /** `siteHeadPages`' statement (prepared on first use). */
  private siteHeadsOf?: Statement<[{ after: string; limit: number }], SiteHead>;
  /** `listWorkersOfDevices`' statement (prepared on first use). */
  private workersOfDevice?: Statement<[string, number, number], { worker_id: string }>;
  /** The same, leaving out a run of held links (prepared on first use). */
  private workersOfDeviceBesides?: Statement<
    [string, number, number, string, number, number],
    { worker_id: string }
  >;
  /** The same, only packet_id and data (prepared on first use). */
  private previousDataOfWorkers?: Statement<
    [string],
    Pick<AttendanceLogRow, 'packet_id' | 'data'> & WorkerTimedRow
  >;
  /** The same, only each row's place (prepared on first use). */
  private previousPlacesOfWorkers?: Statement<[string], PlacedRow & WorkerTimedRow>;
  /** The same, leaving out a run of held links (prepared on first use). */
  private previousPlacesBesides?: Statement<
    [string, string, number, number],
    PlacedRow & WorkerTimedRow
  >;
  /** Links' data by place (prepared on first use). */
  private dataAtPlaces?: Statement<[string], PlacedRow & Pick<AttendanceLogRow, 'data'>>;

  constructor(
    store: SqliteStoreHandle,
    @Optional() @Inject(offlineSyncConfig.KEY) settings?: OfflineSyncSettings,
    @Optional() metrics?: MetricsRegistry,
    @Optional() storeMac?: StoreMac,
  ) {
    super();
    const mac: LinkMacKey | undefined = storeMac && {
      key: storeMac.keyFor('ledger-link'),
      kid: storeMac.kid,
    };
    this.appends = new Counter({
      name: 'mdai_ledger_appends_total',
      help: "SQLite ledger appends (one per sync batch) by where they ran: on='thread' (the append thread) or on='request' (the request's thread: no thread, its queue full, or it stopped)",
      labelNames: ['on'],
      registers: metrics ? [metrics] : [],
    });
    this.appends.inc({ on: 'thread' }, 0);
    this.appends.inc({ on: 'request' }, 0);
    store.migrate('offline-sync.ledger', LEDGER_SQLITE_MIGRATIONS);
    this.store = store;
    this.db = store.db;
    this.writeTurns = store.writeTurns;
    this.appender = new SqliteChainAppender(this.db, mac);
    // a file only: another connection to a `:memory:` database is another database
    if ((settings?.appendThread ?? defaultAppendThread()) && !this.db.memory) {
      this.thread = new SqliteAppendThread(this.db.name, APPEND_QUEUE, mac);
    }
    this.chainPage = new LimitedStatement(this.db, CHAIN_PAGE_SQL);
    this.chainTextPage = new LimitedStatement(this.db, CHAIN_TEXT_PAGE_SQL, { raw: true });
  }

  async appendToChains(entries: PendingLogEntry[]): Promise<AppendResult[]> {
    if (entries.length === 0) return [];
    const metaJcsOf = metaJcsOfEach();
    const results = await this.appendTexts(entries.map((entry) => appendText(entry, metaJcsOf)));
    return results.map((result, i): AppendResult => {
      // no text carries a headSeq: every one is appended or a duplicate
      if (result.status === 'head_moved') throw new Error('unconditional append refused');
      return toAppendResult(result, entries[i]);
    });
  }

  async appendAtHead(entry: PendingLogEntry, headSeq: number): Promise<AppendAtHeadResult> {
    const [result] = await this.appendTexts([{ ...appendText(entry, jcs), headSeq }]);
    return result.status === 'head_moved' ? result : toAppendResult(result, entry);
  }

  /**
   * One append call, on the append thread when there is one (`SqliteChainAppender`). A call
   * that met a duplicate whose key columns are not its data's was rolled back whole: refused
   * (503 `ledger_unauthenticated_entry`), none of its entries kept.
   */
  private async appendTexts(texts: AppendText[]): Promise<AppendTextResult[]> {
    // the append holds the store's write turn wherever it runs: the store connection's other
    // writes (checkpoints, read models, fraud events) wait for it without sleeping the loop
    const results = await this.writeTurns.hold(async () => {
      // its commits checkpoint as the store's own connection's do (a backstop beside a
      // checkpoint thread that is up, else SQLite's own interval)
      const pages = this.store.autocheckpointPages();
      const ran = this.thread ? await this.thread.run(texts, pages) : 'not_run';
      this.appends.inc({ on: typeof ran === 'string' ? 'request' : 'thread' });
      if (ran === 'not_run') return this.appender.append(texts);
      return ran === 'interrupted' ? this.appender.appendAgain(texts) : ran;
    });
    if (!Array.isArray(results)) throw keyCopiesDisagree(results.seq);
    return results;
  }

  /**
   * The thread stops after the HTTP server has drained (Nest closes it between
   * `beforeApplicationShutdown` and this hook): the syncs in flight at SIGTERM append on it.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.thread?.close();
  }

  async findByKeys(keys: LedgerEntryKey[]): Promise<(AttendanceLog | undefined)[]> {
    const rows = this.appender.rowsOf(keys);
    return keys.map((key) => {
      const row = rows.get(entryKeyText(key));
      return row && confirmKey(Mapper.toDomain(row), key);
    });
  }

  async readRecordHashes(siteId: string, fromSeq: number, toSeq: number): Promise<string[]> {
    return this.db
      .prepare<[string, number, number], { record_hash: string }>(
        'SELECT record_hash FROM attendance_logs WHERE site_id = ? AND seq BETWEEN ? AND ? ORDER BY seq',
      )
      .all(siteId, fromSeq, toSeq)
      .map((r) => r.record_hash);
  }

  async readTaggedTexts(siteId: string, fromSeq: number, toSeq: number): Promise<TaggedLinkText[]> {
    const statement = (this.taggedTexts ??= this.db.prepare(TAGGED_TEXTS_SQL));
    return statement.all(siteId, fromSeq, toSeq).map(Mapper.toTaggedText);
  }

  /** `readChain`'s rows hold the texts and the tag already: one read, each row's texts as stored. */
  async readTaggedChain(siteId: string, afterSeq: number, limit: number): Promise<TaggedLink[]> {
    return this.chainPage.all([siteId, afterSeq], limit).map((row) => {
      const log = Mapper.toDomain(row);
      const text = Mapper.toTaggedText(row);
      // as STORED_DATA: key columns that are not the data's make the text hash to nothing
      const key = { packetId: row.packet_id, deviceId: row.device_id };
      if (!dataHasKey(log.data, key)) text.dataJcs = KEY_COPIES_DISAGREE_TEXT;
      return { log, text };
    });
  }

  async headSeq(siteId: string): Promise<number> {
    const statement = (this.headSeqOf ??= this.db.prepare(HEAD_SEQ_SQL));
    return statement.get(siteId)?.seq ?? 0;
  }

  /** A statement run a page: each steps from the page's first site, one seek a site. */
  async *siteHeadPages(pageSize: number, afterSiteId = ''): AsyncGenerator<SiteHead[]> {
    if (pageSize < 1) return;
    const statement = (this.siteHeadsOf ??= this.db.prepare(SITE_HEADS_SQL));
    for (let after = afterSiteId; ;) {
      const page = statement.all({ after, limit: pageSize });
      if (page.length > 0) yield page;
      if (page.length < pageSize) return;
      after = page[page.length - 1].siteId;
    }
  }

  async readChain(siteId: string, afterSeq: number, limit: number): Promise<AttendanceLog[]> {
    return this.chainPage.all([siteId, afterSeq], limit).map(Mapper.toDomain);
  }

  /** The data and meta columns hold the JCS texts that were hashed: handed over as stored. */
  async readChainTexts(siteId: string, afterSeq: number, limit: number): Promise<StoredLinkText[]> {
    return this.chainTextPage.all([siteId, afterSeq], limit).map(Mapper.fromTextColumns);
  }

  async findPreviousOfWorkers(keys: PreviousKey[]): Promise<(AttendanceLog | undefined)[]> {
    const statement = (this.previousOfWorkers ??= this.db.prepare(PREVIOUS_OF_WORKERS_SQL));
    return previousOfEach(statement, keys).map((row) => row && Mapper.toDomain(row));
  }

  /**
   * Only packet_id and data are read, and only data is parsed (not meta, not the hashes). With
   * `known`, the predecessors are found in the worker-time index alone (their places), and only
   * those the caller does not hold are read and parsed: a sync's own packets are most of the
   * predecessors its fraud screen asks for, appended just before.
   */
  override async findPreviousDataOfWorkers(
    keys: PreviousKey[],
    known?: KnownLinks,
  ): Promise<(LedgerEntryData | undefined)[]> {
    if (known) return this.previousDataBesides(keys, known);
    const statement = (this.previousDataOfWorkers ??= this.db.prepare(
      PREVIOUS_DATA_OF_WORKERS_SQL,
    ));
    return previousOfEach(statement, keys).map(
      (row) => row && (JSON.parse(row.data) as LedgerEntryData),
    );
  }

  private previousDataBesides(
    keys: PreviousKey[],
    known: KnownLinks,
  ): (LedgerEntryData | undefined)[] {
    const run = known.bySite ? longestRun(known.bySite()) : undefined;
    const places = run
      ? // the held run is passed over in the index, and its links of the workers asked for are
        // added as the rows the index would give (rows outside a worker's span are below or
        // above every key of it: no answer changes)
        previousOfEach(
          (this.previousPlacesBesides ??= this.db.prepare(PREVIOUS_PLACES_BESIDES_SQL)),
          keys,
          [run.siteId, run.fromSeq, run.toSeq],
          (workers) => heldPlaces(run, workers, known),
        )
      : previousOfEach(
          (this.previousPlacesOfWorkers ??= this.db.prepare(PREVIOUS_PLACES_OF_WORKERS_SQL)),
          keys,
        );
    const answers: (LedgerEntryData | undefined)[] = [];
    // the places not in `known`, each read (and parsed) once however many keys it answers
    const toRead = new Map<string, { place: [string, number]; data?: LedgerEntryData }>();
    for (const place of places) {
      if (!place) {
        answers.push(undefined);
        continue;
      }
      const data = known.dataAt(place.site_id, place.seq);
      answers.push(data);
      if (!data) toRead.set(placeText(place), { place: [place.site_id, place.seq] });
    }
    if (toRead.size === 0) return answers;
    const read = (this.dataAtPlaces ??= this.db.prepare(DATA_AT_PLACES_SQL));
    for (const row of read.all(JSON.stringify([...toRead.values()].map((r) => r.place)))) {
      toRead.get(placeText(row))!.data = JSON.parse(row.data) as LedgerEntryData;
    }
    return answers.map((data, i) => {
      const place = places[i];
      if (data || !place) return data;
      // found in the index a statement ago, on this connection (links are never deleted)
      const found = toRead.get(placeText(place))!.data;
      if (!found)
        throw new Error(`ledger link ${place.site_id}/${place.seq} not found by its place`);
      return found;
    });
  }

  /**
   * With `known`: the longest run of consecutive seqs of one site it holds (a sync's own batch)
   * is left out of the read (passed over in the index) and its links' workers taken from the
   * held data, by the same test: a packet of one of the devices, timestamped within the window.
   */
  override async listWorkersOfDevices(
    deviceIds: string[],
    from: Date,
    to: Date,
    known?: KnownLinks,
  ): Promise<string[]> {
    const workers = new Set<string>();
    const [fromMs, toMs] = [from.getTime(), to.getTime()];
    const devices = new Set(deviceIds);
    const run = known?.bySite ? longestRun(known.bySite()) : undefined;
    if (!run || !known) {
      const query = (this.workersOfDevice ??= this.db.prepare(WORKERS_OF_DEVICE_SQL));
      for (const deviceId of devices) {
        for (const row of query.all(deviceId, fromMs, toMs)) workers.add(row.worker_id);
      }
      return [...workers].sort();
    }
    for (const data of run.links) {
      if (!isPacketData(data) || !devices.has(data.deviceId)) continue;
      // the packet's time as the index holds it: the timestamp's ms (0 to 3 fraction digits)
      const at = known.atMsOf?.(data) ?? Date.parse(data.timestamp);
      if (at >= fromMs && at <= toMs) workers.add(data.workerId);
    }
    const query = (this.workersOfDeviceBesides ??= this.db.prepare(WORKERS_OF_DEVICE_BESIDES_SQL));
    for (const deviceId of devices) {
      for (const row of query.all(deviceId, fromMs, toMs, run.siteId, run.fromSeq, run.toSeq))
        workers.add(row.worker_id);
    }
    return [...workers].sort();
  }
}

/** An appended or duplicate text's result as the link it is (`entry`: what was appended). */
function toAppendResult(
  result: Exclude<AppendTextResult, { status: 'head_moved' }>,
  entry: PendingLogEntry,
): AppendResult {
  if (result.status === 'duplicate') {
    const key = { packetId: entry.packetId, deviceId: ledgerDeviceOf(entry.data) };
    return { status: 'duplicate', log: confirmKey(Mapper.toDomain(result.row), key) };
  }
  return {
    status: 'appended',
    log: {
      siteId: entry.siteId,
      seq: result.seq,
      prevHash: result.prevHash,
      recordHash: result.recordHash,
      data: entry.data,
      meta: entry.meta,
    },
  };
}

/**
 * The longest run of consecutive seqs of one site in `held` (its data, in seq order), or
 * undefined when it holds no link.
 */
function longestRun(
  held: ReadonlyMap<string, ReadonlyMap<number, LedgerEntryData>>,
): { siteId: string; fromSeq: number; toSeq: number; links: LedgerEntryData[] } | undefined {
  let best: { siteId: string; fromSeq: number; toSeq: number } | undefined;
  for (const [siteId, links] of held) {
    const seqs = [...links.keys()].sort((a, b) => a - b);
    for (let i = 0; i < seqs.length;) {
      let j = i;
      while (j + 1 < seqs.length && seqs[j + 1] === seqs[j] + 1) j++;
      if (!best || seqs[j] - seqs[i] > best.toSeq - best.fromSeq) {
        best = { siteId, fromSeq: seqs[i], toSeq: seqs[j] };
      }
      i = j + 1;
    }
  }
  if (!best) return undefined;
  const site = held.get(best.siteId)!;
  const links: LedgerEntryData[] = [];
  for (let seq = best.fromSeq; seq <= best.toSeq; seq++) links.push(site.get(seq)!);
  return { ...best, links };
}

/** The held run's packets of these workers as the worker-time index's places would be. */
function heldPlaces(
  run: NonNullable<ReturnType<typeof longestRun>>,
  workers: ReadonlyMap<string, unknown>,
  known: KnownLinks,
): (PlacedRow & WorkerTimedRow)[] {
  const rows: (PlacedRow & WorkerTimedRow)[] = [];
  run.links.forEach((data, i) => {
    if (!isPacketData(data) || !workers.has(data.workerId)) return;
    rows.push({
      w: data.workerId,
      at_ms: known.atMsOf?.(data) ?? Date.parse(data.timestamp),
      packet_id: data.packetId,
      site_id: run.siteId,
      seq: run.fromSeq + i,
    });
  });
  return rows;
}

type TimedRow = { at_ms: number; packet_id: string };
type PlacedRow = { site_id: string; seq: number };

/** A link's place as one text (a map key). */
function placeText(row: PlacedRow): string {
  return `${row.seq}/${row.site_id}`;
}
type WorkerTimedRow = TimedRow & { w: string };

/**
 * For each key, its predecessor's row: one run of `statement` (a `previousOfWorkersSql`) over
 * every worker's span of keys, then each key's row picked by binary search.
 */
function previousOfEach<T extends WorkerTimedRow, A extends unknown[] = []>(
  statement: Statement<[string, ...A], T>,
  keys: PreviousKey[],
  more?: A,
  held?: (workers: ReadonlyMap<string, unknown>) => T[],
): (T | undefined)[] {
  if (keys.length === 0) return [];
  const spans = new Map<string, [lo: number, hi: number]>();
  for (const { workerId, at } of keys) {
    const ms = at.getTime();
    const span = spans.get(workerId);
    if (!span) spans.set(workerId, [ms, ms]);
    else [span[0], span[1]] = [Math.min(span[0], ms), Math.max(span[1], ms)];
  }
  const json = JSON.stringify([...spans].map(([w, [lo, hi]]) => [w, lo, hi]));
  const rows = statement.all(json, ...((more ?? []) as A));
  if (held) rows.push(...held(spans));
  const byWorker = new Map<string, T[]>();
  for (const row of rows) {
    const list = byWorker.get(row.w);
    if (list) list.push(row);
    else byWorker.set(row.w, [row]);
  }
  for (const list of byWorker.values()) list.sort(inIndexOrder);
  return keys.map((key) => lastBefore(byWorker.get(key.workerId), key.at.getTime(), key.packetId));
}

/**
 * (time, packetId) order, as the index keeps it. packetIds are UUIDs (ASCII), where JS string
 * order and SQLite's BINARY collation agree.
 */
function byTimeThenPacketId(a: TimedRow, b: TimedRow): number {
  if (a.at_ms !== b.at_ms) return a.at_ms - b.at_ms;
  return a.packet_id < b.packet_id ? -1 : a.packet_id > b.packet_id ? 1 : 0;
}

/**
 * The worker-time index's order: (time, packetId), then the place (site, seq) the primary key
 * adds, so rows tied on (time, packetId) (two devices' packets) sort as the index read them
 * whether the statement or the links in hand gave them.
 */
function inIndexOrder(a: TimedRow & Partial<PlacedRow>, b: TimedRow & Partial<PlacedRow>): number {
  const c = byTimeThenPacketId(a, b);
  if (c !== 0 || a.site_id === undefined || b.site_id === undefined) return c;
  if (a.site_id !== b.site_id) return a.site_id < b.site_id ? -1 : 1;
  return (a.seq ?? 0) - (b.seq ?? 0);
}

/** The last row of `sorted` strictly below (atMs, packetId) (binary search). */
function lastBefore<T extends TimedRow>(
  sorted: T[] | undefined,
  atMs: number,
  packetId: string,
): T | undefined {
  if (!sorted) return undefined;
  const key = { at_ms: atMs, packet_id: packetId };
  let lo = 0;
  let hi = sorted.length; // answer: the first index not below the key, minus one
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byTimeThenPacketId(sorted[mid], key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? sorted[lo - 1] : undefined;
}

/** The texts of one entry the append works on (`metaJcs` serializes its meta). */
function appendText(entry: PendingLogEntry, metaJcs: (meta: AttendanceMeta) => string): AppendText {
  return {
    siteId: entry.siteId,
    packetId: entry.packetId,
    deviceId: ledgerDeviceOf(entry.data),
    dataJcs: entry.dataJcs ?? jcs(entry.data),
    metaJcs: metaJcs(entry.meta),
  };
}
