/** The totals a payroll showed for one worker when its period was closed. */
export interface ClosedWorkerTotals {
  workerId: string;
  daysPresent: number;
  hours: number;
  workedSeconds: number;
  flaggedDays: number;
}

/** A closed payroll period of a site, as stored (its tag over every other field). */
export interface PayrollClose {
  siteId: string;
  /** First and last local day, inclusive (YYYY-MM-DD). */
  from: string;
  to: string;
  /** Epoch ms of the close. */
  at: number;
  /** Who closed it: `admin:<keyId>`. */
  by: string;
  workers: ClosedWorkerTotals[];
  /**
   * Its place in the site's chain of closes, from 1 in the order they were recorded (0: a close
   * of an earlier release not linked yet), and `prev` the digest of the close before it (`''`
   * for the first): both covered by its tag, so a close deleted or moved breaks the chain.
   */
  seq: number;
  prev: string;
  tag: string;
}

/**
 * The tagged head of a site's chain of closes (table / collection `payroll_close_heads`): the
 * latest close's `seq` and digest, written with it (StoreMac purpose `payroll-close-head`), so
 * the newest close deleted reads as a head ahead of the rows.
 */
export interface CloseHead {
  siteId: string;
  seq: number;
  digest: string;
  tag: string;
  /**
   * The digest of the periods of closes `1..seq` (`foldPeriods` over each close's `seq`, `from`
   * and `to`, `''` for the empty chain) and its tag (StoreMac purpose `payroll-close-periods`
   * over `[siteId, seq, digest, periods]`): what a payroll read checks the site's closed days
   * against without reading every close. Absent (or not verifying: a head moved by a server of
   * an earlier release, which leaves them as they were) they are made again from a full walk of
   * the chain by the next read.
   */
  periods?: string;
  periodsTag?: string;
}

/** A close's place and period, as a payroll read's check in brief reads them. */
export interface ClosePlace {
  /** 0: not linked. */
  seq: number;
  from: string;
  to: string;
}

/** A site's chain as stored: its closes by `seq` (unlinked ones first), and its head. */
export interface CloseChain {
  closes: PayrollClose[];
  head?: CloseHead;
}

/**
 * What the service makes of a new close given the site's chain as read in the write (`tip`: its
 * close of the highest `seq`): the close linked and tagged, and the new head; for a site with no
 * close nor head, `base` too: the tagged head of the empty chain (`seq` 0, digest `''`), which
 * MongoDB writes before the close, so a replica dying before the head moves leaves a head behind
 * the close, never none. It throws to refuse.
 */
export type CloseSeal = (
  tip: PayrollClose | undefined,
  head: CloseHead | undefined,
) => { close: PayrollClose; head: CloseHead; base?: CloseHead };

/**
 * What the service makes of a site's closes of an earlier release (`unlinked`, by `at` then
 * `from`) given its chain as read: each linked (and re-tagged when it verifies), the new head.
 */
export type CloseLink = (
  unlinked: PayrollClose[],
  tip: PayrollClose | undefined,
  head: CloseHead | undefined,
) => { closes: PayrollClose[]; head: CloseHead; base?: CloseHead };

/** A new close, or the one that took its place (the same period, or one overlapping it). */
export type CloseResult =
  | { status: 'closed'; close: PayrollClose }
  | { status: 'exists'; close: PayrollClose }
  | { status: 'overlaps'; close: PayrollClose }
  /** MongoDB: another replica extended the site's chain at once (nothing stored). */
  | { status: 'raced' };

/**
 * What `keys:retag` makes of one close as stored: `tampered` (under no held key: never
 * re-tagged), `current`, `suspect` (only under a key given to `--except`), else `retagged`:
 * `tag` is its tag under the current key over the same fields.
 */
export interface CloseRetagPlan {
  result: 'retagged' | 'current' | 'tampered' | 'suspect';
  /** The key it was under (retagged), or the excepted key it verifies under (suspect). */
  from?: string;
  tag?: string;
  /**
   * A head's periods tag when it is re-tagged: under the current key when its periods verified
   * under a key held; undefined: its periods are cleared (made again by the next read's walk).
   */
  periodsTag?: string;
}

/**
 * What `keys:retag` did with one close (`id`: `<siteId>|<from>`): its plan's result, `changed`
 * (changed by a server on every try), or `deleted` (gone since its id was read).
 */
export interface CloseRetagOutcome {
  id: string;
  result: CloseRetagPlan['result'] | 'changed' | 'deleted';
  from?: string;
}

/** A close's id as `keys:retag` pages and lists it. */
export function closeIdOf(siteId: string, from: string): string {
  return `${siteId}|${from}`;
}

/** The site and first day of a close's id (its first day is the part after the last `|`). */
export function closeKeyOf(id: string): { siteId: string; from: string } {
  const at = id.lastIndexOf('|');
  return { siteId: id.slice(0, at), from: id.slice(at + 1) };
}

/**
 * Payroll closes (table / collection `payroll_closes`): one row per closed period of a site,
 * never deleted by the server (updated only to be linked or re-tagged). Keyed by (site, from):
 * every read is a seek of it; (site, seq) is unique too.
 */
export abstract class PayrollCloseRepository {
  /**
   * Whether a site's head can be left behind its newest closes by the server itself (MongoDB: a
   * replica dying between a close's insert and the head's move); the service then rolls such a
   * head forward over closes that verify. Never on SQLite (one transaction): a head behind its
   * closes there is an editor's, and reads broken.
   */
  abstract readonly headMayTrail: boolean;

  /**
   * Stores `close` as `seal` links it after the site's chain, with its new head, unless a
   * close of the site overlaps its period: the same period answers `exists` (the stored one),
   * another overlapping one `overlaps` (that one). Atomic on SQLite (one write turn); on
   * MongoDB the close is inserted (its `seq` unique per site), then the head moved by a
   * compare-and-set from the head as read: a close of another replica taking the same `seq`,
   * or moving the head first, answers `raced` (this one removed); the first of two overlapping
   * closes stored at once (by its `at`, then its `from`) is kept and the other removed,
   * answered `overlaps`.
   */
  abstract record(
    close: Omit<PayrollClose, 'seq' | 'prev' | 'tag'>,
    seal: CloseSeal,
  ): Promise<CloseResult>;

  /** The site's chain: every close of it by `seq`, and its head. */
  abstract chain(siteId: string): Promise<CloseChain>;

  /**
   * The site's chain in brief (what a payroll read checks): the place and period of each close
   * by `seq` (0: not linked, first), its close of the highest `seq`, and its head.
   */
  abstract chainPlaces(
    siteId: string,
  ): Promise<{ places: ClosePlace[]; tip?: PayrollClose; head?: CloseHead }>;

  /**
   * Sets the periods digest of the site's head as read (`head`: its `seq`, `digest` and `tag`, a
   * compare-and-set): whether it was still that head.
   */
  abstract setPeriods(head: CloseHead, periods: string, periodsTag: string): Promise<boolean>;

  /** The site's linked closes after place `seq`, by `seq`. */
  abstract closesAfter(siteId: string, seq: number): Promise<PayrollClose[]>;

  /**
   * Moves the site's head from `was` (as read: every field) to `next` (a compare-and-set):
   * whether it moved (false: the head changed meanwhile, or is gone).
   */
  abstract rollHead(was: CloseHead, next: CloseHead): Promise<boolean>;

  /** Up to `limit` sites holding closes of an earlier release not linked yet. */
  abstract unlinkedSiteIds(limit: number): Promise<string[]>;

  /**
   * Links the site's unlinked closes after its chain (SQLite: one write turn; MongoDB: each
   * close only while still unlinked, the head by a compare-and-set): false when another
   * replica linked them meanwhile (nothing written by this one).
   */
  abstract link(siteId: string, link: CloseLink): Promise<boolean>;

  /** `keys:retag`: the site ids of the heads after `afterId`, in order. */
  abstract retagHeadIds(afterId: string, limit: number): Promise<string[]>;

  /** `keys:retag` of one head as read (as `retag`), `id` its site id. */
  abstract retagHead(
    siteId: string,
    plan: (head: CloseHead) => CloseRetagPlan,
  ): Promise<CloseRetagOutcome>;

  /** The site's closes whose period overlaps [from, to], by `from`. */
  abstract overlapping(siteId: string, from: string, to: string): Promise<PayrollClose[]>;

  /** The site's closes, newest period first, at most `limit`, before `before` (a `from`). */
  abstract list(siteId: string, limit: number, before?: string): Promise<PayrollClose[]>;

  /** `keys:retag`: the ids (`<siteId>|<from>`) of every site's closes after `afterId`, in order. */
  abstract retagIds(afterId: string, limit: number): Promise<string[]>;

  /**
   * `keys:retag` of one close as read: `plan` says what to make of it, and its tag is written
   * only over the row as read (SQLite: one transaction in the write turn; MongoDB: a
   * compare-and-set over the document as read, three tries, then `changed`).
   */
  abstract retag(
    id: string,
    plan: (close: PayrollClose) => CloseRetagPlan,
  ): Promise<CloseRetagOutcome>;
}

/** The outcome of a close's plan. */
export function closeRetagOutcome(id: string, plan: CloseRetagPlan): CloseRetagOutcome {
  return { id, result: plan.result, ...(plan.from !== undefined ? { from: plan.from } : {}) };
}

/** The stored totals; a body that is no JSON array (changed outside the server) reads as none. */
export function parseWorkers(body: unknown): ClosedWorkerTotals[] {
  if (typeof body !== 'string') return [];
  try {
    const parsed: unknown = JSON.parse(body);
    return Array.isArray(parsed) ? (parsed as ClosedWorkerTotals[]) : [];
  } catch {
    return [];
  }
}
