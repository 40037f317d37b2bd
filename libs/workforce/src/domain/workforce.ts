/** A work site: attendance is recorded per site, and each site has its own ledger chain. */
export interface Site {
  id: string;
  name: string;
  geo: { lat: number; lng: number };
  radiusM: number;
  /** IANA time zone of the site: its days are local days. Absent on sites created before zones: the configured default. */
  timeZone?: string;
  createdAt: Date;
}

export type PersonKind = 'worker' | 'thekedar';

/** A contractor who brings workers to sites (high trust). */
export interface Thekedar {
  id: string;
  name: string;
  phone: string;
  trustScore: number;
  createdAt: Date;
}

/** Who created a worker: an admin key now; a thekedar's signed request later (issue 6). */
export type WorkerSponsor =
  { kind: 'admin'; actor: string } | { kind: 'thekedar'; thekedarId: string };

export interface Worker {
  id: string;
  name: string;
  phone: string;
  siteIds: string[];
  trustScore: number;
  sponsor: WorkerSponsor;
  /** Until then the worker stands on the sponsor's trust (assisted onboarding). */
  trustInheritedUntil?: Date;
  createdAt: Date;
}

/**
 * A single-use code that lets one phone register for one person. Only its SHA-256 is stored;
 * the code itself is shown once, to whoever created the person.
 */
export interface EnrollmentCode {
  codeHash: string;
  personKind: PersonKind;
  personId: string;
  expiresAt: Date;
  usedAt?: Date;
  usedByDeviceId?: string;
}
