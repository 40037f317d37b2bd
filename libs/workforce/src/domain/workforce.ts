/** A work site: attendance is recorded per site, and each site has its own ledger chain. */
export interface Site {
  id: string;
  name: string;
  geo: { lat: number; lng: number };
  radiusM: number;
  /** IANA time zone of the site: its days are local days. Absent on sites created before zones: the configured default. */
  timeZone?: string;
  createdAt: Date;
  /**
   * Whether the stored record is the server's (SiteSeal; set by a store that tags): a
   * `tampered` site (its geofence or time zone changed outside the server) is refused wherever
   * a decision reads it (`site_tampered`); `legacy` a record from before the tags.
   */
  integrity?: RecordIntegrity;
}

export type PersonKind = 'worker' | 'thekedar';

/**
 * A contractor who brings workers to sites (high trust). It works on `siteIds` only (an
 * admin names them): its signed requests onboard workers at those sites and read their
 * timesheets; any other site is refused (403 `site_not_allowed`, a fraud event).
 */
export interface Thekedar {
  id: string;
  name: string;
  phone: string;
  trustScore: number;
  /** The sites it works on, ascending; empty: it onboards and reads nowhere yet. */
  siteIds: string[];
  createdAt: Date;
  /**
   * Whether the stored record is the server's (ThekedarSeal; set by a store that tags): a
   * `tampered` thekedar (its sites, phone or trust changed outside the server) is refused
   * wherever it acts (403 `thekedar_tampered`); `legacy` a record from before the tags.
   */
  integrity?: RecordIntegrity;
}

/** Who created a worker: an admin key now; a thekedar's signed request later (issue 6). */
export type WorkerSponsor =
  { kind: 'admin'; actor: string } | { kind: 'thekedar'; thekedarId: string };

/**
 * `active`: the worker's phones refresh tokens and sync. `inactive`: the worker left; the
 * record, its history and timesheets stay, its phones are refused (403 `worker_inactive`) and
 * its phone number is claimed nowhere (a new worker may take it) until it is reactivated.
 */
export type WorkerStatus = 'active' | 'inactive';

export const WORKER_STATUSES: readonly WorkerStatus[] = ['active', 'inactive'];

export interface Worker {
  id: string;
  name: string;
  phone: string;
  siteIds: string[];
  status: WorkerStatus;
  /** When the worker was last deactivated or reactivated (absent: never). */
  statusChangedAt?: Date;
  trustScore: number;
  sponsor: WorkerSponsor;
  /** Until then the worker stands on the sponsor's trust (assisted onboarding). */
  trustInheritedUntil?: Date;
  createdAt: Date;
  /**
   * Whether the stored record is the server's (WorkerSeal; set by a store that tags):
   * `tampered` (changed outside the server) is refused wherever the worker is used (403
   * `worker_tampered`), `legacy` a record from before the tags, as stored.
   */
  integrity?: WorkerIntegrity;
}

export type WorkerIntegrity = 'verified' | 'legacy' | 'tampered';

/** Whether a stored site or thekedar is the server's (SiteSeal, ThekedarSeal). */
export type RecordIntegrity = 'verified' | 'legacy' | 'tampered';

/**
 * What a worker's phone number holds, each at most once among all workers (kept by the
 * store, in the same write as the worker): the number at each of its sites
 * (`site:<siteId>|<key>`), and among the workers of its thekedar (`thekedar:<id>|<key>`).
 * `key` is the phone's `PhoneNumbers.claimKey`: its E.164 (as typed for an old worker's
 * number that does not parse). An inactive worker holds none.
 */
export function phoneClaims(
  worker: Pick<Worker, 'siteIds' | 'sponsor'> & { status?: WorkerStatus },
  key: string,
): string[] {
  // a worker who left holds none: its number is free for a new worker at its sites
  if (worker.status === 'inactive') return [];
  const claims = worker.siteIds.map((siteId) => `site:${siteId}|${key}`);
  if (worker.sponsor.kind === 'thekedar')
    claims.push(`thekedar:${worker.sponsor.thekedarId}|${key}`);
  return claims;
}

/**
 * The first of `claims` that `other` (a stored worker with the same number, read and its tag
 * checked; `key` its number's claim key) holds by its own fields, whatever the claim rows
 * say: a claim row deleted in the database frees no number (the rows are untagged, the worker
 * is). A tampered worker is taken as active (its status as stored vouches for nothing).
 */
export function claimHeldByWorker(
  other: Worker,
  key: string,
  claims: readonly string[],
): string | undefined {
  const held = new Set(
    phoneClaims(other.integrity === 'tampered' ? { ...other, status: 'active' } : other, key),
  );
  return claims.find((claim) => held.has(claim));
}

export type WorkerEventAction = 'deactivated' | 'reactivated' | 'sites_changed' | 'phone_changed';

/**
 * Who changed a worker's standing, sites or phone, when and why (as a device's block and
 * unblock). A phone change (`phone_changed`) changes where the worker's pay goes: it keeps both
 * numbers masked (`maskPhone`), never the numbers themselves.
 */
export interface WorkerEvent {
  id: string;
  workerId: string;
  action: WorkerEventAction;
  actor: string;
  reason?: string;
  /** `sites_changed`: the worker's sites after the change. */
  siteIds?: string[];
  /**
   * `sites_changed`: the worker's sites before the change (for the first change, those it was
   * created with). Absent on a change recorded before it was kept (SQLite workforce migration
   * 9): the sites before such a change are not known.
   */
  previousSiteIds?: string[];
  /** `phone_changed`: the new number, masked (`maskPhone`). */
  phone?: string;
  /** `phone_changed`: the number before it, masked. */
  previousPhone?: string;
  at: Date;
}

/**
 * A phone number as an audit trail shows it: its last 4 digits (2 of a number of fewer than 8),
 * every other digit `*`, a leading `+` kept; spaces and dashes of a number stored as typed
 * dropped. Enough to tell two numbers apart and to recognise one, not to dial it.
 */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  const shown = digits.length >= 8 ? 4 : Math.min(2, digits.length);
  const hidden = '*'.repeat(digits.length - shown);
  return `${phone.trimStart().startsWith('+') ? '+' : ''}${hidden}${digits.slice(digits.length - shown)}`;
}

/** The event of a change to `status`. */
export function statusAction(status: WorkerStatus): WorkerEventAction {
  return status === 'inactive' ? 'deactivated' : 'reactivated';
}

/** Whether two lists of site ids hold the same sites (order and repeats aside). */
export function sameSites(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((x) => set.has(x));
}

/** A write refused because another worker holds one of the phone's claims. */
export class PhoneTaken {
  constructor(
    /** The worker that holds it. */
    readonly workerId: string,
    /** The claim: `site:<siteId>|<phone>` or `thekedar:<thekedarId>|<phone>`. */
    readonly claim: string,
  ) {}

  /** `site` or `thekedar`, and its id. */
  get scope(): { kind: 'site' | 'thekedar'; id: string } {
    const [kind, rest] = this.claim.split(':') as ['site' | 'thekedar', string];
    return { kind, id: rest.slice(0, rest.indexOf('|')) };
  }
}

/**
 * A single-use code that lets one phone register for one person. Only its SHA-256 is stored;
 * the code itself is shown once, to whoever created the person.
 */
export interface EnrollmentCode {
  /** The store MAC ('enrollment-code') of the code: whoever writes the store cannot make one. */
  codeHash: string;
  personKind: PersonKind;
  personId: string;
  expiresAt: Date;
  /**
   * The store MAC ('enrollment-binding') over `enrollmentBindingData`: the code bound to its
   * person and expiry, so a row moved to another person (a worker's code made a thekedar's)
   * redeems nothing. Absent on codes stored before it existed, which redeem nothing either.
   */
  tag?: string;
  usedAt?: Date;
  usedByDeviceId?: string;
}
