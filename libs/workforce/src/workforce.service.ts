import { Inject, Injectable, Logger } from '@nestjs/common';
import { canonicalTimeZone, Clock, isLegacyTimeZone, newId } from '@app/common';
import { LegacyTaggingState } from '@app/persistence';
import { HeldStoreMacKey, StoreMac } from '@app/tlog';
import {
  enrollmentBindingData,
  enrollmentCodeData,
  newEnrollmentCode,
} from './domain/enrollment-code';
import { PhoneNumbers } from './domain/phone-number';
import { TRUST_DEFAULTS } from './domain/trust-defaults';
import {
  EnrollmentCode,
  PersonKind,
  PhoneTaken,
  Site,
  Thekedar,
  Worker,
  WorkerEvent,
  WorkerSponsor,
  WorkerStatus,
} from './domain/workforce';
import {
  SiteChanges,
  WorkerChanges,
  WorkerListing,
  WorkforcePage,
  WorkforceRepository,
} from './infrastructure/persistence/workforce.repository';
import { workforceConfig, WorkforceSettings } from './workforce.config';
import { WorkforceError } from './workforce.errors';
import { WorkerRetagOutcome, workerTampered } from './infrastructure/persistence/worker-seal';
import { RecordRetagOutcome } from './infrastructure/persistence/site-seal';
import { siteTampered, thekedarTampered } from './infrastructure/persistence/site-seal';
import { SealedRecordKind } from './infrastructure/persistence/workforce.repository';

export interface EnrolledPerson {
  kind: PersonKind;
  id: string;
  siteIds: string[];
  trustScore: number;
}

/**
 * Sites, thekedars and workers. Creating a person issues a single-use enrollment code (only
 * its hash is stored) that one phone trades for a device identity; an admin can issue a worker
 * or a thekedar a new one, which voids that person's unused codes.
 */
/**
 * How long after a store-MAC key's `retiredAt` codes keyed under it are still taken: the
 * rotation stamps `retiredAt` when it runs, and the replicas issue codes under the old key until
 * each is restarted with the new one.
 */
const RETIRED_KEY_ISSUE_GRACE_MS = 24 * 3_600_000;

@Injectable()
export class WorkforceService {
  private readonly logger = new Logger(WorkforceService.name);
  /** When this process started: the retirement of a retired key listed without one. */
  private readonly startedAt = new Date();
  private readonly enrollmentTtlMs: number;
  private readonly inheritanceMs: number;
  private readonly defaultTimeZone: string;
  private readonly phones: PhoneNumbers;

  constructor(
    private readonly workforce: WorkforceRepository,
    private readonly clock: Clock,
    private readonly mac: StoreMac,
    @Inject(workforceConfig.KEY) settings: WorkforceSettings,
  ) {
    this.enrollmentTtlMs = settings.enrollmentCodeTtlSeconds * 1000;
    this.inheritanceMs = settings.inheritanceDays * 86_400_000;
    this.defaultTimeZone = settings.defaultTimeZone;
    this.phones = new PhoneNumbers(settings.phoneDefaultCountry);
  }

  /** `typed` in E.164 (PHONE_DEFAULT_COUNTRY without a country code), or 400 invalid_phone. */
  private e164(typed: string): string {
    const phone = this.phones.e164(typed);
    if (phone !== undefined) return phone;
    // the number itself is never repeated: the answer is logged, and it is a person's phone
    throw new WorkforceError(
      'invalid_phone',
      'The phone is not a possible number: too short or too long for its country',
      [
        {
          field: 'phone',
          message: `not a possible phone number (a number without a country code is read as one of ${this.phones.defaultRegion})`,
        },
      ],
    );
  }

  /** The workers' legacy tagging (WorkerSeal), for /health. */
  legacySeal(): Promise<LegacyTaggingState> {
    return this.workforce.legacySeal();
  }

  /** The sites' or thekedars' legacy tagging (SiteSeal, ThekedarSeal), for /health. */
  recordsLegacySeal(kind: SealedRecordKind): Promise<LegacyTaggingState> {
    return this.workforce.recordsLegacySeal(kind);
  }

  /** `keys:retag`'s page of sites or thekedars (WorkforceRepository.retagRecordsPage). */
  retagRecordsPage(
    kind: SealedRecordKind,
    afterId: string,
    limit: number,
    except: readonly string[],
  ): Promise<RecordRetagOutcome[]> {
    return this.workforce.retagRecordsPage(kind, afterId, limit, except);
  }

  /** `keys:retag`'s page of workers (WorkforceRepository.retagPage). */
  retagPage(
    afterId: string,
    limit: number,
    except: readonly string[],
  ): Promise<WorkerRetagOutcome[]> {
    return this.workforce.retagPage(afterId, limit, except);
  }

  findWorker(id: string): Promise<Worker | undefined> {
    return this.workforce.findWorkerById(id);
  }

  /** The workers among `ids` that exist (any order). */
  findWorkers(ids: string[]): Promise<Worker[]> {
    return this.workforce.findWorkersByIds(ids);
  }

  /** The thekedar as stored (`integrity` says whether the server vouches for it). */
  findThekedar(id: string): Promise<Thekedar | undefined> {
    return this.workforce.findThekedarById(id);
  }

  /**
   * The thekedar a request acts as, refused (403 thekedar_tampered, an ALARM log line) when its
   * stored record does not verify (ThekedarSeal): its sites may be a database writer's.
   */
  async actingThekedar(id: string): Promise<Thekedar | undefined> {
    const thekedar = await this.workforce.findThekedarById(id);
    if (thekedar?.integrity === 'tampered') {
      this.logger.error(
        { thekedarId: id },
        'ALARM: thekedar refused: its record was changed outside the server (its tag does not verify)',
      );
      throw thekedarTampered();
    }
    return thekedar;
  }

  /**
   * A new site. Its zone (a valid one: the DTO checks) is stored in its canonical spelling
   * (`utc` → `UTC`, `US/Eastern` → `America/New_York`) and a legacy or fixed-offset id is
   * refused (400 `legacy_time_zone`): the zone can never change (every worker-day is a local day
   * there), so a mistake made here would stay.
   */
  async createSite(input: Omit<Site, 'id' | 'createdAt'>): Promise<Site> {
    if (input.timeZone !== undefined && isLegacyTimeZone(input.timeZone)) {
      const message = `${input.timeZone} is a fixed-offset or legacy time zone, not a real place's: give the region's name, such as America/New_York or Asia/Kolkata (UTC for none); a site's time zone cannot be changed after creation`;
      throw new WorkforceError('legacy_time_zone', message, [{ field: 'timeZone', message }]);
    }
    const site: Site = {
      ...input,
      geo: { ...input.geo },
      timeZone:
        input.timeZone !== undefined ? canonicalTimeZone(input.timeZone) : this.defaultTimeZone,
      id: newId(),
      createdAt: this.clock.now(),
    };
    await this.workforce.createSite(site);
    this.logger.log({ siteId: site.id }, 'Site created');
    return site;
  }

  /**
   * The sites among `ids` that exist, as stored: `integrity` says whether the server vouches
   * for each (a caller deciding on a site's geofence or time zone refuses a `tampered` one).
   */
  async findSites(ids: string[]): Promise<Site[]> {
    return this.workforce.findSitesByIds(ids);
  }

  /**
   * The ids of `sites` whose stored record does not verify (SiteSeal), sorted, with an ALARM log
   * line naming them and what was refused (`what`); empty when every one verifies.
   */
  tamperedSites(sites: readonly Site[], what: string): string[] {
    const tampered = sites
      .filter((s) => s.integrity === 'tampered')
      .map((s) => s.id)
      .sort();
    if (tampered.length > 0) {
      this.logger.error(
        { siteIds: tampered },
        `ALARM: ${what} refused: site record changed outside the server (its tag does not verify)`,
      );
    }
    return tampered;
  }

  /** The site, or 404 site_not_found. */
  async getSite(id: string): Promise<Site> {
    const [site] = await this.workforce.findSitesByIds([id]);
    if (!site) throw siteNotFound();
    return site;
  }

  /** The thekedar, or 404 thekedar_not_found. */
  async getThekedar(id: string): Promise<Thekedar> {
    const thekedar = await this.workforce.findThekedarById(id);
    if (!thekedar) throw thekedarNotFound();
    return thekedar;
  }

  listSites(page: WorkforcePage): Promise<Site[]> {
    return this.workforce.listSites(page);
  }

  listThekedars(page: WorkforcePage): Promise<Thekedar[]> {
    return this.workforce.listThekedars(page);
  }

  listWorkers(page: WorkerListing): Promise<Worker[]> {
    return this.workforce.listWorkers(page);
  }

  /** Every site id, ascending, in pages of `limit` after `afterId`. */
  listSiteIds(afterId: string, limit: number): Promise<string[]> {
    return this.workforce.listSiteIds(afterId, limit);
  }

  /** The workers a thekedar onboarded: the only ones it may read timesheets of or correct. */
  workerIdsOfThekedar(thekedarId: string): Promise<string[]> {
    return this.workforce.listWorkerIdsOfThekedar(thekedarId);
  }

  /**
   * Creates a thekedar that works on `siteIds` (404 site_not_found naming each unknown one;
   * none given: no site until an admin names them), with an enrollment code for its phone.
   */
  async createThekedar(input: {
    name: string;
    phone: string;
    siteIds?: string[];
  }): Promise<{ thekedarId: string; enrollmentCode: string; expiresAt: Date }> {
    const now = this.clock.now();
    const id = newId();
    const phone = this.e164(input.phone);
    // a thekedar's sites are a set: kept ascending
    const siteIds = (await this.existingSites(input.siteIds ?? [])).sort();
    const { code, enrollment } = this.enrollment('thekedar', id, now);
    await this.workforce.createThekedar(
      { id, name: input.name, phone, trustScore: TRUST_DEFAULTS.thekedar, siteIds, createdAt: now },
      enrollment,
    );
    this.logger.log({ thekedarId: id, siteIds }, 'Thekedar created');
    return { thekedarId: id, enrollmentCode: code, expiresAt: enrollment.expiresAt };
  }

  /**
   * Sets the sites a thekedar works on (all of them: the list replaces the one before; empty
   * stops it onboarding and reading anywhere). Its workers keep their sites and devices; the
   * thekedar's signed requests for a site it no longer has are refused from then on.
   */
  async updateThekedarSites(
    thekedarId: string,
    siteIds: string[],
    actor: string,
  ): Promise<Thekedar> {
    const sites = (await this.existingSites(siteIds)).sort();
    const thekedar = await this.workforce.updateThekedarSites(thekedarId, sites);
    if (!thekedar) throw thekedarNotFound();
    this.logger.log({ thekedarId, actor, siteIds: sites }, 'Thekedar sites changed');
    return thekedar;
  }

  /**
   * The sites among `siteIds` the thekedar does not work on (all of them for an unknown
   * thekedar). An unknown site is one of them like any other: a thekedar's answer never says
   * whether a site it may not use exists.
   */
  async sitesOutsideThekedar(thekedarId: string, siteIds: string[]): Promise<string[]> {
    // a thekedar whose record was changed outside the server: 403 thekedar_tampered
    const thekedar = await this.actingThekedar(thekedarId);
    const allowed = new Set(thekedar?.siteIds ?? []);
    return [...new Set(siteIds)].filter((id) => !allowed.has(id));
  }

  /**
   * Creates a worker, its phone in E.164 (400 invalid_phone when it is not a possible number).
   * `sponsor` says who vouches: an admin key, or a thekedar whose signed
   * request was checked (AssistedOnboardingService); then the worker stands on
   * `inheritedTrust` (the thekedar's score) until `trustInheritedUntil`
   * (TRUST_INHERITANCE_DAYS from now), and on its own record after that.
   */
  async createWorker(
    input: { name: string; phone: string; siteIds: string[] },
    sponsor: WorkerSponsor,
    inheritedTrust?: number,
  ): Promise<{ worker: Worker; enrollmentCode: string; expiresAt: Date; repeated?: true }> {
    const phone = this.e164(input.phone);
    const siteIds = await this.existingSites(input.siteIds);
    const now = this.clock.now();
    const inherits = sponsor.kind === 'thekedar' && inheritedTrust !== undefined;
    const worker: Worker = {
      id: newId(),
      name: input.name,
      phone,
      siteIds,
      trustScore: inherits ? inheritedTrust : TRUST_DEFAULTS.workerByAdmin,
      sponsor,
      trustInheritedUntil: inherits ? new Date(now.getTime() + this.inheritanceMs) : undefined,
      status: 'active',
      createdAt: now,
    };
    const { code, enrollment } = this.enrollment('worker', worker.id, now);
    const taken = await this.workforce.createWorker(worker, enrollment);
    if (taken) return this.onboardedAlready(worker, taken);
    this.logger.log({ workerId: worker.id, sites: siteIds.length }, 'Worker created');
    return { worker, enrollmentCode: code, expiresAt: enrollment.expiresAt };
  }

  /** `siteIds` without repeats, or 404 site_not_found listing each one that does not exist. */
  private async existingSites(siteIds: string[]): Promise<string[]> {
    const unique = [...new Set(siteIds)];
    const found = await this.workforce.findSitesByIds(unique);
    // a site whose geofence or zone nobody vouches for is given to no one (403 site_tampered)
    const tampered = this.tamperedSites(found, 'a change naming sites');
    if (tampered.length > 0) throw siteTampered(tampered);
    if (found.length !== unique.length) {
      const known = new Set(found.map((s) => s.id));
      throw new WorkforceError('site_not_found', 'Unknown site ids', [
        ...unique
          .filter((id) => !known.has(id))
          .map((id) => ({ field: 'siteIds', message: `no site ${id}` })),
      ]);
    }
    return unique;
  }

  /**
   * A creation whose phone another worker holds. A thekedar's retry of its own onboarding
   * (same phone, name and sites: the app re-signs a request whose answer it lost; the signature
   * itself is single use) answers that worker with a new enrollment code, the unused ones
   * voided, as long as no phone registered with a code of it: then the onboarding is done and
   * there is nothing to retry. Anything else is 409 worker_exists, naming the worker to an admin
   * and to the thekedar that onboarded it, to no one else.
   */
  private async onboardedAlready(
    attempt: Worker,
    taken: PhoneTaken,
  ): Promise<{ worker: Worker; enrollmentCode: string; expiresAt: Date; repeated: true }> {
    const holder = await this.workforce.findWorkerById(taken.workerId);
    const sponsor = attempt.sponsor;
    const own =
      sponsor.kind === 'thekedar' &&
      holder?.sponsor.kind === 'thekedar' &&
      holder.sponsor.thekedarId === sponsor.thekedarId;
    if (
      own &&
      holder.name === attempt.name &&
      // a holder stored before numbers were normalized holds its number as typed
      this.phones.claimKey(holder.phone) === attempt.phone &&
      sameSet(holder.siteIds, attempt.siteIds) &&
      !(await this.workforce.hasSpentEnrollment(holder.id))
    ) {
      const { code, enrollment } = this.enrollment('worker', holder.id, this.clock.now());
      if (await this.workforce.replaceEnrollment(enrollment)) {
        this.logger.log(
          { workerId: holder.id, thekedarId: sponsor.thekedarId },
          'Worker onboarding repeated: a new enrollment code',
        );
        return {
          worker: holder,
          enrollmentCode: code,
          expiresAt: enrollment.expiresAt,
          repeated: true,
        };
      }
    }
    throw workerExists(taken, sponsor.kind === 'admin' || own);
  }

  /**
   * A new enrollment code for a person who lost the first (a new phone, an expired code, a
   * closed tab): the person's earlier unused codes stop working; a phone registered already
   * keeps its device and tokens. `actor` is who asked (logged, as the code never is).
   * 404 worker_not_found / thekedar_not_found when no such person exists.
   */
  async issueEnrollment(
    kind: PersonKind,
    personId: string,
    actor: string,
  ): Promise<{ enrollmentCode: string; expiresAt: Date }> {
    if (kind === 'worker') {
      // a worker who left gets no code (a phone registered with it would be refused anyway)
      const worker = await this.workforce.findWorkerById(personId);
      if (worker?.integrity === 'tampered') throw workerTampered();
      if (worker?.status === 'inactive') throw workerInactive();
    }
    const { code, enrollment } = this.enrollment(kind, personId, this.clock.now());
    if (!(await this.workforce.replaceEnrollment(enrollment))) {
      throw kind === 'worker' ? workerNotFound() : thekedarNotFound();
    }
    const expiresAt = enrollment.expiresAt.toISOString();
    const who = kind === 'worker' ? { workerId: personId } : { thekedarId: personId };
    const label = kind === 'worker' ? 'Worker' : 'Thekedar';
    this.logger.log({ ...who, actor, expiresAt }, `${label} enrollment code issued`);
    return { enrollmentCode: code, expiresAt: enrollment.expiresAt };
  }

  /**
   * Renames a worker, changes its phone number or its sites (400 invalid_phone, 404
   * site_not_found, 409 worker_exists when another worker has the phone at a site added or
   * among the thekedar's workers: nothing changed). A site added claims the phone there, a site
   * removed releases it; a change of sites is recorded as a `sites_changed` event, a change of
   * the phone (where the worker's pay goes) as a `phone_changed` event with both numbers masked
   * (the log line names the fields changed, never a number). The worker's
   * phones learn the new sites at their next token refresh; a sync for a removed site is refused
   * from now on, whatever token it carries (OfflineSyncService reads the worker's sites).
   */
  async updateWorker(workerId: string, changes: WorkerChanges, actor: string): Promise<Worker> {
    if (changes.phone !== undefined) changes = { ...changes, phone: this.e164(changes.phone) };
    if (changes.siteIds !== undefined) {
      changes = { ...changes, siteIds: await this.existingSites(changes.siteIds) };
    }
    const audit = { id: newId(), phoneEventId: newId(), actor, at: this.clock.now() };
    const worker = await this.workforce.updateWorker(workerId, changes, audit);
    if (!worker) throw workerNotFound();
    if (worker instanceof PhoneTaken) throw workerExists(worker, true);
    this.logger.log({ workerId, actor, fields: Object.keys(changes) }, 'Worker changed');
    return worker;
  }

  /**
   * Deactivates a worker who left (`inactive`) or reactivates one who is back (`active`), with
   * a reason, recorded as an event: an inactive worker's phones get no token and sync nothing
   * (403 worker_inactive), no phone registers for it, and its phone is claimed nowhere (a new
   * worker may have the number); its record, history and timesheets stay. Reactivating claims
   * the phone again: 409 worker_exists, nothing changed, when another worker has it meanwhile
   * at one of the sites or among the thekedar's workers. The worker in `status` already: as
   * it is, no event. 404 worker_not_found.
   */
  async setWorkerStatus(
    workerId: string,
    status: WorkerStatus,
    reason: string,
    actor: string,
  ): Promise<Worker> {
    const audit = { id: newId(), actor, reason, at: this.clock.now() };
    const worker = await this.workforce.setWorkerStatus(workerId, status, audit);
    if (!worker) throw workerNotFound();
    if (worker instanceof PhoneTaken) throw workerExists(worker, true);
    this.logger.log({ workerId, actor, status }, 'Worker status changed');
    return worker;
  }

  /** A worker's status and site changes, oldest first (none for an unknown worker). */
  eventsOf(workerId: string): Promise<WorkerEvent[]> {
    return this.workforce.listWorkerEvents(workerId);
  }

  /** A worker's status and site changes, oldest first; 404 worker_not_found. */
  async workerEvents(workerId: string): Promise<{ worker: Worker; events: WorkerEvent[] }> {
    const worker = await this.workforce.findWorkerById(workerId);
    if (!worker) throw workerNotFound();
    return { worker, events: await this.workforce.listWorkerEvents(workerId) };
  }

  /**
   * Renames a site or moves its geofence: packets synced from then on are checked against the
   * new one; accepted packets keep the findings they had.
   */
  async updateSite(siteId: string, changes: SiteChanges, actor: string): Promise<Site> {
    const site = await this.workforce.updateSite(siteId, changes);
    if (!site) throw siteNotFound();
    this.logger.log({ siteId, actor, fields: Object.keys(changes) }, 'Site changed');
    return site;
  }

  /**
   * Spends an enrollment code for `deviceId`: exactly one caller wins even under concurrent
   * requests. Unknown, expired and used codes get the same answer.
   */
  async redeemEnrollment(code: string, deviceId: string): Promise<EnrolledPerson> {
    const now = this.clock.now();
    const enrollment = await this.findEnrollment(code);
    if (!enrollment || enrollment.usedAt || enrollment.expiresAt <= now) throw invalidCode();
    const person = await this.person(enrollment);
    const spent = { ...enrollment, usedAt: now, usedByDeviceId: deviceId };
    const tag = this.mac.mac('enrollment-binding', enrollmentBindingData(spent));
    if (!(await this.workforce.markEnrollmentUsed(enrollment.codeHash, deviceId, now, tag)))
      throw invalidCode();
    return person;
  }

  /**
   * The stored code `code` is, looked up by its keyed hash under each store-MAC key held (the
   * current one first: a code issued before a rotation is stored under the key of then), and
   * only if its tag binds it to its person, expiry and spent state under a key it may be under
   * (`mayHold`); one that does not verify is logged as an ALARM (ids only, never the code) and
   * answered as unknown.
   */
  private async findEnrollment(code: string): Promise<EnrollmentCode | undefined> {
    for (const { kid, mac } of this.mac.macsUnderEach(
      'enrollment-code',
      enrollmentCodeData(code),
    )) {
      const stored = await this.workforce.findEnrollment(mac);
      if (!stored) continue;
      const bound = this.mac.kidOf('enrollment-binding', enrollmentBindingData(stored), stored.tag);
      const issuedAt = new Date(stored.expiresAt.getTime() - this.enrollmentTtlMs);
      if (bound && this.mayHold(kid, issuedAt) && this.mayHold(bound, issuedAt)) return stored;
      this.logger.error(
        { personKind: stored.personKind, personId: stored.personId, kid: bound ?? kid },
        bound
          ? "ALARM: an enrollment code is keyed under a store-MAC key it cannot have been issued under (staged, derived, or retired before the code's issue): refused"
          : "ALARM: an enrollment code's tag does not verify (its row was changed in the database): refused",
      );
      return undefined;
    }
    return undefined;
  }

  /**
   * Until when codes keyed under the held store-MAC key `key` may still be redeemed (the last
   * one it can have keyed expires then), or undefined when none can be: for `keys:retag`,
   * which cannot re-key a code (the code itself is not stored). A retired key with no
   * `retiredAt` is taken as retired now.
   */
  enrollmentCodesUnderUntil(key: HeldStoreMacKey, now: Date): Date | undefined {
    if (key.stagedAt || key.derived) return undefined;
    const retired = (key.retiredAt ?? now).getTime();
    const until = new Date(retired + RETIRED_KEY_ISSUE_GRACE_MS + this.enrollmentTtlMs);
    return until > now ? until : undefined;
  }

  /**
   * Whether a code issued at `issuedAt` (its expiry less ENROLLMENT_CODE_TTL_HOURS) may be keyed
   * under the store-MAC key `kid`: the current one; a retired one only for codes issued before
   * it was retired, or within RETIRED_KEY_ISSUE_GRACE_MS after (the replicas go on issuing
   * under it until each is restarted with the new key), so a key kept after a leak, as
   * `keys:retag --except` asks, mints no code that outlives it by more than that; a retired key
   * listed without `retiredAt` counts as retired when this process started. Never a staged key
   * (nothing is tagged under it yet) nor the key derived from the signing key (codes were keyed
   * after STORE_MAC_KEY existed).
   */
  private mayHold(kid: string, issuedAt: Date): boolean {
    if (kid === this.mac.kid) return true;
    const held = this.mac.heldOthers().find((k) => k.kid === kid);
    if (!held || held.stagedAt || held.derived) return false;
    const retired = (held.retiredAt ?? this.startedAt).getTime();
    return issuedAt.getTime() < retired + RETIRED_KEY_ISSUE_GRACE_MS;
  }

  /**
   * Gives back a code `redeemEnrollment` spent for `deviceId` when that registration failed
   * before its device was stored: the person can register again with the same code. No-op if a
   * later code of the person was issued or used meanwhile.
   */
  async releaseEnrollment(code: string, deviceId: string): Promise<boolean> {
    const enrollment = await this.findEnrollment(code);
    if (!enrollment) return false;
    const unused = { ...enrollment, usedAt: undefined, usedByDeviceId: undefined };
    const tag = this.mac.mac('enrollment-binding', enrollmentBindingData(unused));
    return this.workforce.releaseEnrollment(enrollment.codeHash, deviceId, tag);
  }

  private async person(enrollment: EnrollmentCode): Promise<EnrolledPerson> {
    if (enrollment.personKind === 'worker') {
      const worker = await this.workforce.findWorkerById(enrollment.personId);
      if (!worker) throw invalidCode();
      // the code stays unused: it works again if the worker is reactivated before it expires
      if (worker.integrity === 'tampered') throw workerTampered();
      if (worker.status === 'inactive') throw workerInactive();
      return {
        kind: 'worker',
        id: worker.id,
        siteIds: worker.siteIds,
        trustScore: worker.trustScore,
      };
    }
    const thekedar = await this.actingThekedar(enrollment.personId);
    if (!thekedar) throw invalidCode();
    return { kind: 'thekedar', id: thekedar.id, siteIds: [], trustScore: thekedar.trustScore };
  }

  private enrollment(
    kind: PersonKind,
    personId: string,
    now: Date,
  ): { code: string; enrollment: EnrollmentCode } {
    const code = newEnrollmentCode();
    const bound = {
      codeHash: this.mac.mac('enrollment-code', enrollmentCodeData(code)),
      personKind: kind,
      personId,
      expiresAt: new Date(now.getTime() + this.enrollmentTtlMs),
    };
    return {
      code,
      enrollment: {
        ...bound,
        tag: this.mac.mac('enrollment-binding', enrollmentBindingData(bound)),
      },
    };
  }
}

function sameSet(a: string[], b: string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((x) => set.has(x));
}

/** 409 for a phone another worker holds; `named`: the caller may learn which worker. */
function workerExists(taken: PhoneTaken, named: boolean): WorkforceError {
  const { kind, id } = taken.scope;
  const where = kind === 'site' ? `at site ${id}` : 'among the workers of this thekedar';
  const who = named ? `worker ${taken.workerId}` : 'another worker';
  return new WorkforceError('worker_exists', `A worker with this phone exists ${where}`, [
    { field: 'phone', message: `already the phone of ${who} ${where}` },
    ...(named ? [{ field: 'workerId', message: taken.workerId }] : []),
  ]);
}

function workerNotFound(): WorkforceError {
  return new WorkforceError('worker_not_found', 'No worker has this workerId');
}

function workerInactive(): WorkforceError {
  return new WorkforceError(
    'worker_inactive',
    'The worker was deactivated; an admin can reactivate it (POST /api/v5/workers/:workerId/reactivate)',
  );
}

function thekedarNotFound(): WorkforceError {
  return new WorkforceError('thekedar_not_found', 'No thekedar has this thekedarId');
}

function siteNotFound(): WorkforceError {
  return new WorkforceError('site_not_found', 'No site has this siteId');
}

function invalidCode(): WorkforceError {
  return new WorkforceError(
    'invalid_enrollment_code',
    'The enrollment code is unknown, expired or already used',
  );
}
