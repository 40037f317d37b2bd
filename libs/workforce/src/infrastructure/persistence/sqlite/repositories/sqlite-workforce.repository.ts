import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import {
  LegacyTaggingState,
  LimitedStatement,
  LimitedStatements,
  logLegacyTagging,
  readTransaction,
  retagSqliteRow,
  SqliteStoreHandle,
  sqliteLegacyTaggingState,
  SqliteWriteTurns,
  StoredForms,
  storedFormsCanonical,
  tagLegacyRowsOnceSqlite,
} from '@app/persistence';
import {
  EnrollmentCode,
  claimHeldByWorker,
  PhoneTaken,
  phoneClaims,
  Site,
  Thekedar,
  sameSites,
  statusAction,
  Worker,
  WorkerEvent,
  WorkerStatus,
} from '../../../../domain/workforce';
import { PhoneNumbers } from '../../../../domain/phone-number';
import { reportThekedarSiteGrants } from '../../thekedar-site-grants';
import { SiteSeal, siteTampered, ThekedarSeal, thekedarTampered } from '../../site-seal';
import { SealedRecordRows } from '../../sealed-record-rows';
import {
  alarmWorkerLegacyRefused,
  WorkerRetagOutcome,
  WorkerSeal,
  workerTampered,
} from '../../worker-seal';
import { workforceConfig, WorkforceSettings } from '../../../../workforce.config';
import {
  SealedRecordKind,
  SiteChanges,
  WorkerAudit,
  WorkerChanges,
  WorkerListing,
  WorkforcePage,
  WorkforceRepository,
  phoneEventOf,
  workerEventOf,
} from '../../workforce.repository';
import {
  EnrollmentRow,
  SiteRow,
  ThekedarRow,
  WorkerEventRow,
  WorkerRow,
  WorkforceSqliteMapper as Mapper,
} from '../mappers/workforce.mapper';
import {
  PHONE_KEY_FUNCTION,
  UNCLAIMED_WORKERS_SQL,
  WORKFORCE_SQLITE_MIGRATIONS,
} from '../sqlite-workforce.migrations';

/** `findSitesByIds` keeps its statement for lists of up to this many ids. */
const SITES_BY_IDS_CACHED = 16;

@Injectable()
export class SqliteWorkforceRepository extends WorkforceRepository {
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;
  private readonly insertEnrollment: Statement;
  private readonly sitePage: LimitedStatement<[string], SiteRow>;
  private readonly siteIdPage: LimitedStatement<[string], { id: string }>;
  private readonly thekedarPage: LimitedStatement<[string], ThekedarRow>;
  /** The workers' listings, by filter shape (`workerListSql`). */
  private readonly workerPages: LimitedStatements<WorkerRow>;
  /** `findSitesByIds`' statements, by the number of ids (prepared on first use). */
  private readonly sitesByIds = new Map<number, Statement<string[], SiteRow>>();
  /** `findWorkerById`'s statement (prepared on first use). */
  private workerById?: Statement<[string], WorkerRow>;
  /** `listWorkerEvents`' statement (prepared on first use: a sync reads the events per batch). */
  private workerEvents?: Statement<[string], WorkerEventRow>;
  /** `findWorkersByIds`' statement (prepared on first use). */
  private workersByIds?: Statement<[string], WorkerRow>;

  private readonly logger = new Logger(SqliteWorkforceRepository.name);
  private readonly claimHolder: Statement<[string], { worker_id: string }>;
  private readonly insertClaim: Statement<[string, string]>;
  private readonly phones: PhoneNumbers;
  /** Sites and thekedars as read and tagged (SiteSeal, ThekedarSeal). */
  private readonly records: SealedRecordRows<SiteRow, ThekedarRow>;
  /** A worker's newest event's id (WorkerSeal binds its tag to it): prepared on first use. */
  private newestEventOf?: Statement<[string], { id: string }>;
  /** The other workers with a number (the claims' check against the tagged rows): on first use. */
  private workersByPhone?: Statement<[string, string], WorkerRow>;

  constructor(
    store: SqliteStoreHandle,
    @Optional() @Inject(workforceConfig.KEY) settings?: WorkforceSettings,
    @Optional() private readonly seal?: WorkerSeal,
    @Optional() siteSeal?: SiteSeal,
    @Optional() thekedarSeal?: ThekedarSeal,
  ) {
    super();
    this.phones = new PhoneNumbers(settings?.phoneDefaultCountry);
    this.db = store.db;
    this.keyOldPhones(store);
    this.claimHolder = this.db.prepare('SELECT worker_id FROM worker_phone_claims WHERE claim = ?');
    this.insertClaim = this.db.prepare(
      'INSERT INTO worker_phone_claims (claim, worker_id) VALUES (?, ?)',
    );
    this.reportDuplicates();
    this.turns = store.writeTurns;
    this.insertEnrollment = this.db.prepare(
      `INSERT INTO enrollment_codes (code_hash, person_kind, person_id, expires_at, tag, used_at, used_by_device_id)
       VALUES (@code_hash, @person_kind, @person_id, @expires_at, @tag, @used_at, @used_by_device_id)`,
    );
    this.sitePage = new LimitedStatement(this.db, SITE_LIST_SQL);
    this.siteIdPage = new LimitedStatement(this.db, SITE_ID_LIST_SQL);
    this.thekedarPage = new LimitedStatement(this.db, THEKEDAR_LIST_SQL);
    this.workerPages = new LimitedStatements(this.db);
    if (seal) this.sealLegacy(seal);
    this.records = new SealedRecordRows(Mapper, this.logger, siteSeal, thekedarSeal);
    if (siteSeal) this.sealRecordsLegacy('site', siteSeal);
    if (thekedarSeal) this.sealRecordsLegacy('thekedar', thekedarSeal);
  }

  async recordsLegacySeal(kind: SealedRecordKind): Promise<LegacyTaggingState> {
    return sqliteLegacyTaggingState(this.db, `${kind}_seal`, this.recordsLegacyRefused[kind]);
  }

  /**
   * Sites and thekedars stored before their tags (migration 13) are tagged once, as legacy, by
   * the first server with the tags (the workers' rule and switch); a refusal leaves the untagged
   * ones `tampered` (refused).
   */
  private sealRecordsLegacy(kind: SealedRecordKind, seal: SiteSeal | ThekedarSeal) {
    const table = RECORD_TABLES[kind];
    const result = tagLegacyRowsOnceSqlite(this.db, seal, {
      markerTable: `${kind}_seal`,
      taggedSql: `SELECT EXISTS (SELECT 1 FROM ${table} WHERE tag IS NOT NULL) AS tagged`,
      untaggedSql: `SELECT EXISTS (SELECT 1 FROM ${table} WHERE tag IS NULL) AS untagged`,
      tagUntagged: () => {
        const tag = this.db.prepare(`UPDATE ${table} SET tag = ? WHERE id = ?`);
        const rows = this.db.prepare(`SELECT * FROM ${table} WHERE tag IS NULL`).all();
        let tagged = 0;
        for (const row of rows as (SiteRow & ThekedarRow)[]) {
          // a row the mapper cannot read stays untagged (it reads tampered)
          const legacyTag = this.records.legacyTag(kind, row);
          if (legacyTag === undefined) continue;
          tag.run(legacyTag, row.id);
          tagged++;
        }
        return tagged;
      },
    });
    this.recordsLegacyRefused[kind] = this.records.legacyTagged(kind, result);
  }

  protected async retagRecordIds(kind: SealedRecordKind, afterId: string, limit: number) {
    if (!this.records.seal(kind)) return [];
    return this.db
      .prepare<[string, number], { id: string }>(
        `SELECT id FROM ${RECORD_TABLES[kind]} WHERE id > ? ORDER BY id LIMIT ?`,
      )
      .all(afterId, limit)
      .map((r) => r.id);
  }

  protected async retagRecord(kind: SealedRecordKind, id: string, except: readonly string[]) {
    const table = RECORD_TABLES[kind];
    const read = this.db.prepare<[string], SiteRow & ThekedarRow>(
      `SELECT * FROM ${table} WHERE id = ?`,
    );
    const write = this.db.prepare(`UPDATE ${table} SET tag = ? WHERE id = ?`);
    return retagSqliteRow(
      { db: this.db, turns: this.turns },
      {
        read: () => read.get(id),
        retag: (row) => {
          const { plan, outcome } = this.records.retag(kind, row, except);
          return { outcome, tag: plan.tag };
        },
        write: (tag) => write.run(tag, id),
      },
    );
  }

  async legacySeal(): Promise<LegacyTaggingState> {
    return sqliteLegacyTaggingState(this.db, 'worker_seal', this.legacyRefused);
  }

  /**
   * Workers stored before the tags (migration 12) are tagged once, as legacy, by the first
   * server with the tags, under the fraud store's rule and switch (tagLegacyRowsOnceSqlite). A
   * refusal leaves the untagged workers `tampered` (refused).
   */
  private sealLegacy(seal: WorkerSeal): void {
    const result = tagLegacyRowsOnceSqlite(this.db, seal, {
      markerTable: 'worker_seal',
      taggedSql: 'SELECT EXISTS (SELECT 1 FROM workers WHERE tag IS NOT NULL) AS tagged',
      untaggedSql: 'SELECT EXISTS (SELECT 1 FROM workers WHERE tag IS NULL) AS untagged',
      tagUntagged: () => {
        let count = 0;
        const tag = this.db.prepare('UPDATE workers SET tag = ?, event_id = ? WHERE id = ?');
        for (const row of this.db
          .prepare<[], WorkerRow>('SELECT * FROM workers WHERE tag IS NULL')
          .all()) {
          const eventId = this.newestEventId(row.id) ?? null;
          tag.run(seal.tag(Mapper.workerToDomain(row), eventId, true), eventId, row.id);
          count++;
        }
        return count;
      },
    });
    this.legacyRefused = logLegacyTagging(result, this.logger, {
      counted: 'workers',
      tagged: 'Workers from before the tags tagged as legacy',
      alarm: alarmWorkerLegacyRefused,
    });
  }

  /** The id of a worker's newest event (by write order), undefined when it has none. */
  private newestEventId(workerId: string): string | undefined {
    return (this.newestEventOf ??= this.db.prepare(NEWEST_WORKER_EVENT_SQL)).get(workerId)?.id;
  }

  /** A stored worker as the domain reads it: its tag checked when the store tags. */
  private toDomain(row: WorkerRow): Worker {
    const worker = Mapper.workerToDomain(row);
    if (!this.seal) return worker;
    const stored = { tag: row.tag, eventId: row.event_id };
    const checked = this.seal.checked(worker, stored, this.newestEventId(row.id));
    // stored text is canonical: a sponsor with a duplicate `thekedarId` (json_extract puts the
    // worker in another crew, JSON.parse in its own) verifies, yet is no row the server wrote
    return storedFormsCanonical(row, WORKER_FORMS)
      ? checked
      : { ...checked, integrity: 'tampered' };
  }

  /**
   * Inside a write transaction: the worker read back and tagged as it now is, bound to
   * `eventId` (its newest event); the worker as read then.
   */
  private tagged(id: string, eventId: string | null): Worker {
    const worker = Mapper.workerToDomain(this.readWorker(id)!);
    if (!this.seal) return worker;
    this.db
      .prepare('UPDATE workers SET tag = ?, event_id = ? WHERE id = ?')
      .run(this.seal.tag(worker, eventId), eventId, id);
    return { ...worker, integrity: 'verified' };
  }

  /** Inside a write transaction: the stored worker, refused (403 worker_tampered) when tampered. */
  private untampered(row: WorkerRow): Worker {
    const worker = this.toDomain(row);
    if (worker.integrity === 'tampered') throw workerTampered();
    return worker;
  }

  async createSite(site: Site): Promise<void> {
    const insert = this.db.prepare(
      `INSERT INTO sites (id, name, lat, lng, radius_m, time_zone, created_at, tag)
       VALUES (@id, @name, @lat, @lng, @radius_m, @time_zone, @created_at, @tag)`,
    );
    const row = Mapper.siteToPersistence(site);
    const tag = this.records.siteTag(row) ?? null;
    await this.turns.write(() => insert.run({ ...row, tag }));
  }

  async findSitesByIds(ids: string[]): Promise<Site[]> {
    if (ids.length === 0) return [];
    let statement = this.sitesByIds.get(ids.length);
    if (!statement) {
      statement = this.db.prepare<string[], SiteRow>(
        `SELECT * FROM sites WHERE id IN (${ids.map(() => '?').join(',')})`,
      );
      // every sync asks for its batch's sites (mostly one): the statement of each small
      // count is prepared once; a longer list is prepared for its call only
      if (ids.length <= SITES_BY_IDS_CACHED) this.sitesByIds.set(ids.length, statement);
    }
    return statement.all(...ids).map((r) => this.records.site(r));
  }

  async listSites(page: WorkforcePage): Promise<Site[]> {
    return this.sitePage.all([page.afterId ?? ''], page.limit).map((r) => this.records.site(r));
  }

  async listThekedars(page: WorkforcePage): Promise<Thekedar[]> {
    return this.thekedarPage
      .all([page.afterId ?? ''], page.limit)
      .map((r) => this.records.thekedar(r));
  }

  async listWorkers(page: WorkerListing): Promise<Worker[]> {
    const params: string[] = [page.afterId ?? ''];
    if (page.siteId) params.push(page.siteId);
    if (page.status) params.push(page.status);
    const sql = workerListSql({ site: !!page.siteId, status: !!page.status });
    return readTransaction(this.db, () =>
      this.workerPages.all(sql, params, page.limit).map((r) => this.toDomain(r)),
    );
  }

  async listSiteIds(afterId: string, limit: number): Promise<string[]> {
    return this.siteIdPage.all([afterId], limit).map((r) => r.id);
  }

  async listWorkerIdsOfThekedar(thekedarId: string): Promise<string[]> {
    // each row checked: a worker whose sponsor was rewritten in the database is no one's crew
    const statement = this.db.prepare<[string], WorkerRow>(
      `SELECT * FROM workers WHERE json_extract(sponsor, '$.kind') = 'thekedar'
         AND json_extract(sponsor, '$.thekedarId') = ? ORDER BY id`,
    );
    return readTransaction(this.db, () =>
      statement
        .all(thekedarId)
        .map((r) => this.toDomain(r))
        .filter((w) => w.integrity !== 'tampered')
        .map((w) => w.id),
    );
  }

  async createThekedar(thekedar: Thekedar, enrollment: EnrollmentCode): Promise<void> {
    const insert = this.db.prepare(
      `INSERT INTO thekedars (id, name, phone, trust_score, site_ids, created_at, tag)
       VALUES (@id, @name, @phone, @trust_score, @site_ids, @created_at, @tag)`,
    );
    const tag = this.records.thekedarTag(thekedar) ?? null;
    await this.turns.write(() =>
      this.db
        .transaction(() => {
          insert.run({ ...Mapper.thekedarToPersistence(thekedar), tag });
          this.insertEnrollment.run(Mapper.enrollmentToPersistence(enrollment));
        })
        .immediate(),
    );
  }

  async createWorker(worker: Worker, enrollment: EnrollmentCode): Promise<PhoneTaken | undefined> {
    const insert = this.db.prepare(
      `INSERT INTO workers (id, name, phone, site_ids, trust_score, sponsor, trust_inherited_until,
         status, status_changed_at, created_at, tag, event_id)
       VALUES (@id, @name, @phone, @site_ids, @trust_score, @sponsor, @trust_inherited_until,
         @status, @status_changed_at, @created_at, @tag, NULL)`,
    );
    return this.turns.write(
      this.immediate(() => {
        const claims = phoneClaims(worker, this.phones.claimKey(worker.phone));
        const taken = this.takenAmong(claims, worker.id, worker.phone);
        if (taken) return taken;
        const tag = this.seal ? this.seal.tag(worker, null) : null;
        insert.run({ ...Mapper.workerToPersistence(worker), tag });
        // the primary key refuses a claim held already, whatever got past the read above
        for (const claim of claims) this.insertClaim.run(claim, worker.id);
        this.insertEnrollment.run(Mapper.enrollmentToPersistence(enrollment));
        return undefined;
      }),
    );
  }

  /**
   * `work` as one immediate transaction (run in the store's write turns): it reads, then writes
   * what it read allows. A deferred transaction would read first, then fail at its first
   * write with SQLITE_BUSY (SQLite does not wait to upgrade a read to a write) while another
   * process holds the write lock, or with SQLITE_BUSY_SNAPSHOT once that writer committed;
   * an immediate one waits for the lock (busy_timeout) before it reads.
   */
  private immediate<T>(work: () => T): () => T {
    return () => this.db.transaction(work).immediate();
  }

  async hasSpentEnrollment(workerId: string): Promise<boolean> {
    const row = this.db
      .prepare<[string], { one: number }>(
        `SELECT 1 AS one FROM enrollment_codes
          WHERE person_kind = 'worker' AND person_id = ? AND used_at IS NOT NULL LIMIT 1`,
      )
      .get(workerId);
    return row !== undefined;
  }

  /**
   * The first of `claims` another worker than `self` holds: by its claim row, or by its own
   * (tagged) row with the number `phone` (a claim row deleted in the database frees nothing).
   */
  private takenAmong(claims: string[], self: string, phone: string): PhoneTaken | undefined {
    for (const claim of claims) {
      const holder = this.claimHolder.get(claim);
      if (holder && holder.worker_id !== self) return new PhoneTaken(holder.worker_id, claim);
    }
    if (claims.length === 0) return undefined;
    const byPhone = (this.workersByPhone ??= this.db.prepare(WORKERS_BY_PHONE_SQL));
    for (const row of byPhone.all(phone, self)) {
      const other = this.toDomain(row);
      const claim = claimHeldByWorker(other, this.phones.claimKey(other.phone), claims);
      if (claim !== undefined) return new PhoneTaken(other.id, claim);
    }
    return undefined;
  }

  /**
   * The migrations, with `PHONE_KEY_FUNCTION` for the one that keys old workers' claims in
   * E.164 (version 6). That one names the workers whose number does not parse (claimed as
   * typed): once, at the boot that runs it.
   */
  private keyOldPhones(store: SqliteStoreHandle): void {
    const unparsed = new Set<string>();
    this.db.function(PHONE_KEY_FUNCTION, (phone, workerId) => {
      const e164 = this.phones.e164(String(phone));
      if (e164 !== undefined) return e164;
      unparsed.add(String(workerId));
      return this.phones.claimKey(String(phone));
    });
    const thekedarsWithoutSites = this.hasThekedarsWithoutSites();
    store.migrate('device-trust.workforce', WORKFORCE_SQLITE_MIGRATIONS);
    if (thekedarsWithoutSites) this.reportThekedarSites();
    if (unparsed.size === 0) return;
    const workerIds = [...unparsed].sort();
    this.logger.warn(
      { workerIds: workerIds.slice(0, 100), more: workerIds.length > 100 },
      'Workers stored before phones were checked hold a number that is not a possible one: claimed as typed (spaces and dashes aside) until their phone is changed',
    );
  }

  /** Whether the store holds a thekedars table from before thekedar sites (migration 8). */
  private hasThekedarsWithoutSites(): boolean {
    const table = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'thekedars'")
      .get();
    if (!table) return false;
    const column = this.db
      .prepare("SELECT 1 FROM pragma_table_info('thekedars') WHERE name = 'site_ids'")
      .get();
    return !column;
  }

  /**
   * At the boot that gave thekedars their sites (migration 8): which sites each thekedar from
   * before got (those of the workers it onboarded), for an admin to review, and which got none.
   */
  private reportThekedarSites(): void {
    const rows = this.db
      .prepare<[], { id: string; site_ids: string }>(
        'SELECT id, site_ids FROM thekedars ORDER BY id',
      )
      .all()
      .map((r) => ({ thekedarId: r.id, siteIds: JSON.parse(r.site_ids) as string[] }));
    reportThekedarSiteGrants(this.logger, rows);
  }

  /**
   * Workers that hold fewer claims than their phone has: created before phones were claimed
   * (or keyed in E.164) with a number an older worker has at a site or of a thekedar. Kept as
   * they are (their timesheets and devices stay), named in a warning at every boot until an
   * operator changes their phone (or the older worker's). Counted, not keyed: no phone is
   * parsed at boot.
   */
  private reportDuplicates(): void {
    const rows = this.db.prepare<[], { worker_id: string }>(UNCLAIMED_WORKERS_SQL).all();
    if (rows.length === 0) return;
    this.logger.warn(
      { workerIds: rows.slice(0, 100).map((r) => r.worker_id), more: rows.length > 100 },
      'Workers share a phone with an older worker at a site or of a thekedar (created before duplicates were refused; kept)',
    );
  }

  /**
   * The worker, its row and its newest event read in one read transaction (as the listings and
   * `findWorkersByIds`): read statement by statement, a change another process (a replica on the
   * file) commits between them would bind the row read to a newer event: `tampered` for that read.
   */
  async findWorkerById(id: string): Promise<Worker | undefined> {
    // every sync reads its worker (its sites, its status, its trust): prepared once
    return readTransaction(this.db, () => {
      const row = this.readWorker(id);
      return row ? this.toDomain(row) : undefined;
    });
  }

  async findWorkersByIds(ids: string[]): Promise<Worker[]> {
    if (ids.length === 0) return [];
    // one statement for any count: the ids go in as one JSON array
    const statement = (this.workersByIds ??= this.db.prepare<[string], WorkerRow>(
      'SELECT * FROM workers WHERE id IN (SELECT value FROM json_each(?))',
    ));
    return readTransaction(this.db, () =>
      statement.all(JSON.stringify(ids)).map((r) => this.toDomain(r)),
    );
  }

  async updateWorker(
    id: string,
    changes: WorkerChanges,
    audit: WorkerAudit,
  ): Promise<Worker | PhoneTaken | undefined> {
    const update = this.db.prepare(
      `UPDATE workers SET name = coalesce(?, name), phone = coalesce(?, phone),
         site_ids = coalesce(?, site_ids) WHERE id = ?`,
    );
    const siteIds = changes.siteIds ? JSON.stringify(changes.siteIds) : null;
    return this.turns.write(
      this.immediate((): Worker | PhoneTaken | undefined => {
        const row = this.readWorker(id);
        if (!row) return undefined;
        const before = this.untampered(row);
        const after: Worker = { ...before, ...changes };
        const taken = this.moveClaims(before, after);
        if (taken) return taken;
        update.run(changes.name ?? null, changes.phone ?? null, siteIds, id);
        let eventId = row.event_id ?? null;
        if (changes.siteIds && !sameSites(before.siteIds, changes.siteIds)) {
          const event = workerEventOf(audit, id, 'sites_changed', {
            after: changes.siteIds,
            before: before.siteIds,
          });
          this.insertEvent(event);
          eventId = event.id;
        }
        const phoneEvent = phoneEventOf(audit, id, before.phone, changes.phone);
        if (phoneEvent) {
          this.insertEvent(phoneEvent);
          eventId = phoneEvent.id;
        }
        return this.tagged(id, eventId);
      }),
    );
  }

  async setWorkerStatus(
    id: string,
    status: WorkerStatus,
    audit: WorkerAudit,
  ): Promise<Worker | PhoneTaken | undefined> {
    const update = this.db.prepare(
      'UPDATE workers SET status = ?, status_changed_at = ? WHERE id = ?',
    );
    return this.turns.write(
      this.immediate((): Worker | PhoneTaken | undefined => {
        const row = this.readWorker(id);
        if (!row) return undefined;
        const before = this.untampered(row);
        if (before.status === status) return before;
        const taken = this.moveClaims(before, { ...before, status });
        if (taken) return taken;
        update.run(status, audit.at.toISOString(), id);
        const event = workerEventOf(audit, id, statusAction(status));
        this.insertEvent(event);
        return this.tagged(id, event.id);
      }),
    );
  }

  async retagPage(
    afterId: string,
    limit: number,
    except: readonly string[],
  ): Promise<WorkerRetagOutcome[]> {
    const seal = this.seal;
    if (!seal) return [];
    const ids = this.db
      .prepare<[string, number], { id: string }>(
        'SELECT id FROM workers WHERE id > ? ORDER BY id LIMIT ?',
      )
      .all(afterId, limit)
      .map((r) => r.id);
    const out: WorkerRetagOutcome[] = [];
    for (const id of ids) {
      const outcome = await retagSqliteRow(
        { db: this.db, turns: this.turns },
        {
          read: () => this.readWorker(id),
          retag: (row) => {
            const stored = { tag: row.tag, eventId: row.event_id };
            const newest = this.newestEventId(id);
            const { plan, outcome } = seal.retag(
              Mapper.workerToDomain(row),
              stored,
              newest,
              except,
            );
            return { outcome, tag: plan.tag };
          },
          write: (tag) => this.db.prepare('UPDATE workers SET tag = ? WHERE id = ?').run(tag, id),
        },
      );
      if (outcome) out.push(outcome);
    }
    return out;
  }

  async listWorkerEvents(workerId: string): Promise<WorkerEvent[]> {
    return (this.workerEvents ??= this.db.prepare(WORKER_EVENTS_SQL))
      .all(workerId)
      .map(Mapper.workerEventToDomain);
  }

  private readWorker(id: string): WorkerRow | undefined {
    return (this.workerById ??= this.db.prepare('SELECT * FROM workers WHERE id = ?')).get(id);
  }

  private insertEvent(event: WorkerEvent): void {
    this.db
      .prepare(
        `INSERT INTO worker_events
           (id, worker_id, action, actor, reason, site_ids, previous_site_ids, phone,
            previous_phone, at)
         VALUES (@id, @worker_id, @action, @actor, @reason, @site_ids, @previous_site_ids, @phone,
            @previous_phone, @at)`,
      )
      .run(Mapper.workerEventToPersistence(event));
  }

  /**
   * Inside a write transaction: the worker's claims from `before`'s to `after`'s. A new phone
   * gives up every claim and takes all of the new number's; otherwise only what differs moves
   * (a site added is claimed, a site removed released; a deactivation releases all, a
   * reactivation claims all), so a worker stored before claims keeps the ones it holds. The
   * first claim to take that another worker holds is the answer, and nothing is written.
   */
  private moveClaims(before: Worker, after: Worker): PhoneTaken | undefined {
    const newKey = this.phones.claimKey(after.phone);
    const target = phoneClaims(after, newKey);
    if (after.phone !== before.phone) {
      const taken = this.takenAmong(target, after.id, after.phone);
      if (taken) return taken;
      this.db.prepare('DELETE FROM worker_phone_claims WHERE worker_id = ?').run(after.id);
      for (const claim of target) this.insertClaim.run(claim, after.id);
      return undefined;
    }
    const held = new Set(phoneClaims(before, this.phones.claimKey(before.phone)));
    const added = target.filter((c) => !held.has(c));
    const kept = new Set(target);
    const taken = this.takenAmong(added, after.id, after.phone);
    if (taken) return taken;
    const release = this.db.prepare(
      'DELETE FROM worker_phone_claims WHERE claim = ? AND worker_id = ?',
    );
    for (const claim of held) if (!kept.has(claim)) release.run(claim, after.id);
    for (const claim of added) this.insertClaim.run(claim, after.id);
    return undefined;
  }

  async updateSite(id: string, changes: SiteChanges): Promise<Site | undefined> {
    const update = this.db.prepare(
      `UPDATE sites SET name = coalesce(?, name), lat = coalesce(?, lat), lng = coalesce(?, lng),
         radius_m = coalesce(?, radius_m) WHERE id = ?`,
    );
    const read = this.db.prepare<[string], SiteRow>('SELECT * FROM sites WHERE id = ?');
    const retag = this.db.prepare('UPDATE sites SET tag = ? WHERE id = ?');
    const { name, geo, radiusM } = changes;
    return this.turns.write(
      this.immediate((): Site | undefined => {
        const before = read.get(id);
        if (!before) return undefined;
        // a change would vouch for the fields nobody checked (its time zone): refused
        if (this.records.site(before).integrity === 'tampered') throw siteTampered([id]);
        update.run(name ?? null, geo?.lat ?? null, geo?.lng ?? null, radiusM ?? null, id);
        const row = read.get(id)!;
        const site = Mapper.siteToDomain(row);
        const tag = this.records.siteTag(row);
        if (tag === undefined) return site;
        retag.run(tag, id);
        return { ...site, integrity: 'verified' };
      }),
    );
  }

  async replaceEnrollment(enrollment: EnrollmentCode): Promise<boolean> {
    const table = enrollment.personKind === 'worker' ? 'workers' : 'thekedars';
    const exists = this.db.prepare<[string], { id: string }>(
      `SELECT id FROM ${table} WHERE id = ?`,
    );
    const revoke = this.db.prepare(ENROLLMENT_REVOKE_SQL);
    return this.turns.write(
      this.immediate(() => {
        if (!exists.get(enrollment.personId)) return false;
        // unused codes are dropped (a spent code stays: which device it registered)
        revoke.run(enrollment.personKind, enrollment.personId);
        this.insertEnrollment.run(Mapper.enrollmentToPersistence(enrollment));
        return true;
      }),
    );
  }

  async findThekedarById(id: string): Promise<Thekedar | undefined> {
    const row = this.db
      .prepare<[string], ThekedarRow>('SELECT * FROM thekedars WHERE id = ?')
      .get(id);
    return row ? this.records.thekedar(row) : undefined;
  }

  async updateThekedarSites(id: string, siteIds: string[]): Promise<Thekedar | undefined> {
    const update = this.db.prepare('UPDATE thekedars SET site_ids = ? WHERE id = ?');
    const read = this.db.prepare<[string], ThekedarRow>('SELECT * FROM thekedars WHERE id = ?');
    const retag = this.db.prepare('UPDATE thekedars SET tag = ? WHERE id = ?');
    return this.turns.write(
      this.immediate((): Thekedar | undefined => {
        const before = read.get(id);
        if (!before) return undefined;
        // a change would vouch for the fields nobody checked (its phone, its trust): refused
        if (this.records.thekedar(before).integrity === 'tampered') throw thekedarTampered();
        update.run(JSON.stringify(siteIds), id);
        const thekedar = Mapper.thekedarToDomain(read.get(id)!);
        const tag = this.records.thekedarTag(thekedar);
        if (tag === undefined) return thekedar;
        retag.run(tag, id);
        return { ...thekedar, integrity: 'verified' };
      }),
    );
  }

  async findEnrollment(codeHash: string): Promise<EnrollmentCode | undefined> {
    const row = this.db
      .prepare<[string], EnrollmentRow>('SELECT * FROM enrollment_codes WHERE code_hash = ?')
      .get(codeHash);
    return row ? Mapper.enrollmentToDomain(row) : undefined;
  }

  async markEnrollmentUsed(
    codeHash: string,
    deviceId: string,
    at: Date,
    tag: string,
  ): Promise<boolean> {
    const iso = at.toISOString();
    const mark = this.db.prepare(
      `UPDATE enrollment_codes SET used_at = ?, used_by_device_id = ?, tag = ?
       WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?`,
    );
    return (
      (await this.turns.write(() => mark.run(iso, deviceId, tag, codeHash, iso))).changes === 1
    );
  }

  async releaseEnrollment(codeHash: string, deviceId: string, tag: string): Promise<boolean> {
    const release = this.db.prepare(ENROLLMENT_RELEASE_SQL);
    return (await this.turns.write(() => release.run({ tag, codeHash, deviceId }))).changes === 1;
  }
}

/** A spent code made unused again, unless a later code of its person was issued or used. */
const ENROLLMENT_RELEASE_SQL = `UPDATE enrollment_codes AS e SET used_at = NULL, used_by_device_id = NULL, tag = @tag
  WHERE e.code_hash = @codeHash AND e.used_by_device_id = @deviceId
    AND NOT EXISTS (SELECT 1 FROM enrollment_codes o
      WHERE o.person_id = e.person_id AND o.person_kind = e.person_kind
        AND o.code_hash <> e.code_hash AND (o.used_at IS NULL OR o.used_at >= e.used_at))`;

/** The tables of the records SiteSeal and ThekedarSeal tag. */
const RECORD_TABLES: Record<SealedRecordKind, string> = { site: 'sites', thekedar: 'thekedars' };

/** The keyset listings, exported for the query-plan test. */
export const SITE_LIST_SQL = 'SELECT * FROM sites WHERE id > ? ORDER BY id LIMIT ?';
export const SITE_ID_LIST_SQL = 'SELECT id FROM sites WHERE id > ? ORDER BY id LIMIT ?';
export const THEKEDAR_LIST_SQL = 'SELECT * FROM thekedars WHERE id > ? ORDER BY id LIMIT ?';
export const WORKER_LIST_SQL = 'SELECT * FROM workers WHERE id > ? ORDER BY id LIMIT ?';

/**
 * The workers' listing for its filters (parameters: after, then the site, then the status, then
 * the limit); unfiltered it is WORKER_LIST_SQL, by site SITE_WORKER_LIST_SQL.
 */
export function workerListSql(filters: { site: boolean; status: boolean }): string {
  const where = ['id > ?'];
  if (filters.site) where.push(SITE_FILTER);
  if (filters.status) where.push('status = ?');
  return `SELECT * FROM workers WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`;
}

const SITE_FILTER = 'EXISTS (SELECT 1 FROM json_each(workers.site_ids) WHERE value = ?)';
/** A worker's newest event (its index range read at its end: rowid is in the index). */
const NEWEST_WORKER_EVENT_SQL =
  'SELECT id FROM worker_events WHERE worker_id = ? ORDER BY rowid DESC LIMIT 1';
/** A worker's events in the order they were written (exported for the plan test). */
export const WORKER_EVENTS_SQL = 'SELECT * FROM worker_events WHERE worker_id = ? ORDER BY rowid';
/** A person's unused codes, dropped when a new one is issued (exported for the plan test). */
export const ENROLLMENT_REVOKE_SQL = `DELETE FROM enrollment_codes
  WHERE person_kind = ? AND person_id = ? AND used_at IS NULL`;
export const SITE_WORKER_LIST_SQL = workerListSql({ site: true, status: false });

/** The stored forms a worker row's read holds to (stored text is canonical: `@app/persistence`). */
const WORKER_FORMS: StoredForms<WorkerRow> = {
  site_ids: 'json',
  sponsor: 'json',
  created_at: 'time',
  status_changed_at: 'time?',
  trust_inherited_until: 'time?',
};

/** The workers other than one with a number, by the `workers_phone` index (migration 14). */
const WORKERS_BY_PHONE_SQL = 'SELECT * FROM workers WHERE phone = ? AND id <> ? ORDER BY id';
