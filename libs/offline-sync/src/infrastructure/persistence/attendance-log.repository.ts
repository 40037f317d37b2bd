import {
  AttendanceLog,
  LedgerEntryData,
  LedgerEntryKey,
  ledgerDeviceOf,
  PendingLogEntry,
  StoredLinkText,
} from '../../domain/attendance-log';
import { OfflineSyncError } from '../../offline-sync.errors';

/** A site's chain and the seq of its head (its last link). */
export interface SiteHead {
  siteId: string;
  seq: number;
}

export interface PreviousKey {
  workerId: string;
  at: Date;
  packetId: string;
}

/**
 * Links a caller already holds with their data (e.g. the ones its append just added), by site
 * and seq: a store may answer a predecessor that is one of them with this data instead of
 * reading the link's data again. A link at a (site, seq) never changes, so the answer is the
 * same either way.
 */
export interface KnownLinks {
  dataAt(siteId: string, seq: number): LedgerEntryData | undefined;
  /**
   * Every held link, by site and seq (for a store that leaves a run of them out of a read and
   * takes their data from here instead); none: only `dataAt` is asked.
   */
  bySite?(): ReadonlyMap<string, ReadonlyMap<number, LedgerEntryData>>;
  /**
   * A held packet's timestamp in ms (`Date.parse` of its `timestamp`), where the caller has it
   * already (one of the objects `bySite` gave); none: the store parses it.
   */
  atMsOf?(data: LedgerEntryData): number | undefined;
}

/**
 * A pending marker held by one caller (MongoDB): its `id`, and the `owner` token the caller
 * wrote into it when it wrote or took it (the fence: a caller whose marker another took over
 * meanwhile no longer finds its token there, and neither screens nor settles it). `keys`: the
 * marker's keys this caller screens, where that is not all of them (a retry that took it over
 * screens the packets it sent again): settling removes those from the marker, which is deleted
 * once it names none, else released for the sweep. None: the whole marker (its writer's, the
 * sweep's).
 */
export interface BatchLease {
  id: string;
  owner: string;
  keys?: LedgerEntryKey[];
}

/**
 * `batch` (MongoDB): the pending marker written before the call's first insert, to settle once
 * the caller has screened and projected what it appended (`settleBatches`). `pendingBatch`: a
 * pending marker naming this key whose lease this call took over (a batch cut short, or a sync
 * past its lease): on a duplicate, a stored entry never screened nor projected, to be screened
 * as fresh (only the first of a key's entries in the call: a packet listed twice is fresh
 * once); on an appended entry, one this call screens itself. Either way settled with the
 * marker's other keys this call screened, the ones it names besides left to the sweep.
 */
export type AppendResult =
  | { status: 'appended'; log: AttendanceLog; batch?: BatchLease; pendingBatch?: BatchLease }
  | { status: 'duplicate'; log: AttendanceLog; pendingBatch?: BatchLease };

/**
 * A pending marker whose lease ran out (`staleBatches`), taken over: its entries' keys.
 * `insertsOver`: its writer's inserts are over (it failed, or the marker is older than an insert
 * can land: PENDING_BATCH_INSERTS_MS): a key it names not stored now never will be, and is
 * dropped; until then such a key stays named (its writer may still be inserting it).
 */
export interface PendingBatch {
  lease: BatchLease;
  keys: LedgerEntryKey[];
  at: Date;
  insertsOver: boolean;
}

/**
 * How long a pending marker's lease lasts (the writing sync's, a retry's or the sweep's), from
 * its last renewal by the store's clock: past it, with the marker still there, its entries are
 * screened by a retry or the sweep, and the holder that lost it screens none of them.
 */
export const PENDING_BATCH_LEASE_MS = 2 * 60_000;

/**
 * How long after sending its pending marker a sync may still send an insert of the batch (by
 * the app's monotonic clock): past it, it stops (`store_unavailable`) and its phone retries.
 * Well under the lease, so an insert lands before anyone may drop the keys it finds unstored,
 * and under one nginx try of the sync route (deploy/nginx.conf: 30 s), so the phone gets this
 * answer rather than nginx resending the batch to the other replica (review R12 item 3).
 */
export const PENDING_BATCH_INSERTS_MS = 20_000;

/**
 * What a conditional append (`appendAtHead`) gives back: an `AppendResult`, or `head_moved`
 * when the site's chain head was not the one expected (nothing was written).
 */
export type AppendAtHeadResult = AppendResult | { status: 'head_moved'; headSeq: number };

/**
 * A stored link as the texts its recordHash is made of, with the server's store MAC over that
 * recordHash and the MAC's key id (`mac`, `kid`: null when the link has none). A tag says the
 * server wrote a link with this recordHash; the texts say whether this link is that one.
 */
export interface TaggedLinkText extends StoredLinkText {
  mac: string | null;
  kid: string | null;
}

/** A stored link, parsed, beside its texts and tag (`readTaggedChain`). */
export interface TaggedLink {
  log: AttendanceLog;
  text: TaggedLinkText;
}

/**
 * The ledger: one hash chain per site. Appends are serialized per chain by the store, and an
 * entry's key (its device and packetId, `LedgerEntryKey`) is stored at most once, whatever the
 * concurrency: another device's packet with the same packetId is another entry.
 */
export abstract class AttendanceLogRepository {
  /**
   * Appends entries in order, each to the head of its site's chain. An entry whose key (its
   * device, `ledgerDeviceOf(data)`, and packetId) is already stored (earlier, concurrently, or
   * earlier in the same call) is not appended; its stored link is returned as `duplicate`.
   * Results are in the order of `entries`.
   */
  abstract appendToChains(entries: PendingLogEntry[]): Promise<AppendResult[]>;
  /**
   * Appends one entry only if its site's chain head is still at `headSeq` (0: an empty
   * chain), in the same atomic step that keeps a site's seqs unique (one transaction, one
   * conditional insert): another writer's link appended since, by any process, makes it
   * `head_moved` with the head found, and nothing is written. Optimistic concurrency for an
   * entry whose rules were checked against the chain up to `headSeq` (a timesheet
   * correction). A stored key is `duplicate` whatever the head.
   */
  abstract appendAtHead(entry: PendingLogEntry, headSeq: number): Promise<AppendAtHeadResult>;
  /**
   * Settles pending markers this caller holds (`AppendResult` `batch`/`pendingBatch`), fenced by
   * its owner token: a lease without `keys` deletes its marker, one with `keys` removes those
   * from it (deleted once it names none; otherwise released: the rest is another's to screen).
   * A marker another took over meanwhile is left to it. A store that appends a batch
   * atomically writes none (this does nothing).
   */
  async settleBatches(_leases: BatchLease[]): Promise<void> {}
  /** Ends the lease of pending markers this caller holds (it failed after them): retried at once. */
  async releaseBatches(_leases: BatchLease[]): Promise<void> {}
  /**
   * The leases among `leases` this caller still holds, each renewed for another
   * PENDING_BATCH_LEASE_MS (checked right before it screens their entries: a lease another took
   * over, the caller leaves to it). A store that writes no markers holds them all.
   */
  async holdBatches(leases: BatchLease[]): Promise<BatchLease[]> {
    return leases;
  }
  /**
   * Up to `limit` pending markers whose lease ran out, oldest first, each taken over (its lease
   * renewed for the caller under a new owner token, who screens and settles them).
   */
  async staleBatches(_limit: number): Promise<PendingBatch[]> {
    return [];
  }
  /** The stored link of each key, in the order of `keys` (undefined where none). */
  abstract findByKeys(keys: LedgerEntryKey[]): Promise<(AttendanceLog | undefined)[]>;
  /** The recordHashes of seq fromSeq..toSeq (inclusive) of a chain, in seq order. */
  abstract readRecordHashes(siteId: string, fromSeq: number, toSeq: number): Promise<string[]>;
  /**
   * Seq fromSeq..toSeq (inclusive) of a chain, in seq order: each link's stored texts (as
   * `readChainTexts`) and the store MAC stored with it (`mac`, its key id `kid`).
   */
  abstract readTaggedTexts(
    siteId: string,
    fromSeq: number,
    toSeq: number,
  ): Promise<TaggedLinkText[]>;
  /**
   * `readChain`, each link with its stored texts and tag (`TaggedLinkText`): what a reader that
   * pays from the chain checks before it trusts a link. One read of the page.
   */
  abstract readTaggedChain(siteId: string, afterSeq: number, limit: number): Promise<TaggedLink[]>;
  /** The seq of a chain's head, its last link (0: an empty chain). */
  abstract headSeq(siteId: string): Promise<number>;
  /**
   * Every chain with a siteId after `afterSiteId` (siteId order), each with its head seq, in
   * pages of `pageSize` (the last one shorter; none for no chain): how a sweep finds every
   * site's chain. One walk of the sites (an index walk, one step per site, not a scan of links),
   * whatever the number of pages: a page's read must not step over the sites before it again.
   */
  abstract siteHeadPages(pageSize: number, afterSiteId?: string): AsyncIterable<SiteHead[]>;
  /** Up to `limit` links of a chain with seq > afterSeq, in seq order. */
  abstract readChain(siteId: string, afterSeq: number, limit: number): Promise<AttendanceLog[]>;
  /**
   * `readChain` as the stored JCS texts of data and meta (what verification hashes): a store
   * that keeps the texts hands them over as they are, one that keeps values serializes them.
   */
  abstract readChainTexts(
    siteId: string,
    afterSeq: number,
    limit: number,
  ): Promise<StoredLinkText[]>;
  /**
   * For each key, the worker's accepted link just before it in packet time: the greatest
   * (timestamp, packetId) strictly below the given pair, whatever its site. One lookup for a
   * whole batch; the answers are in the order of `keys`.
   */
  abstract findPreviousOfWorkers(keys: PreviousKey[]): Promise<(AttendanceLog | undefined)[]>;
  /**
   * `findPreviousOfWorkers`, only each link's `data` (what the fraud rules look at). A store
   * that can read less than the whole link overrides it; the answers are the same. `known`:
   * links the caller holds, whose data a store may hand back instead of reading it (equal to
   * the stored data; the default reads every link).
   */
  async findPreviousDataOfWorkers(
    keys: PreviousKey[],
    _known?: KnownLinks,
  ): Promise<(LedgerEntryData | undefined)[]> {
    return (await this.findPreviousOfWorkers(keys)).map((log) => log?.data);
  }
  /**
   * Distinct workerIds (sorted) with accepted packets from any of `deviceIds` timestamped within
   * [from, to]. `known`: links the caller holds (equal to the stored ones), whose data a store
   * may take from it instead of reading those links (the answer is the same).
   */
  abstract listWorkersOfDevices(
    deviceIds: string[],
    from: Date,
    to: Date,
    known?: KnownLinks,
  ): Promise<string[]>;
}

/**
 * The data text a reader gives for a link whose stored key copies (its packetId, and its
 * device where a store keeps one) are not the ones its data names: it hashes to no recordHash,
 * so the link reads record_hash_mismatch (verify names it, the seal refuses it, read models stop
 * before it). The copies are what the duplicate lookup reads, and no hash covers them.
 */
export const KEY_COPIES_DISAGREE_TEXT = '"stored copies disagree with data"';

/**
 * Whether `key` is the key the link's hashed data names (its packetId and its device). A data
 * edited in the store into JSON that is no object names no key (it reads tampered, not a TypeError).
 */
export function dataHasKey(data: LedgerEntryData, key: LedgerEntryKey): boolean {
  const value = data as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return data.packetId === key.packetId && ledgerDeviceOf(data) === key.deviceId;
}

/**
 * `link`, found by `key` through its stored key copies, if its data names that key; else the
 * copies were changed in the store (the link would answer as the duplicate of a packet it is
 * not, or its own packet, sent again, would be appended as a second link): the sync is refused
 * as for a ledger entry the server did not write (503 `ledger_unauthenticated_entry`), neither
 * answering `duplicate` nor appending, until an operator restores the link from a backup.
 */
export function confirmKey(link: AttendanceLog, key: LedgerEntryKey): AttendanceLog {
  if (dataHasKey(link.data, key)) return link;
  throw keyCopiesDisagree(link.seq);
}

/**
 * The refusal of a sync or append that met a link (`seq`) whose stored key copies are not the
 * ones its data names: nothing of that call is appended (a store checks its whole batch's
 * duplicates before it keeps any of it: its fresh entries, kept, would be neither screened nor
 * projected, their retry a duplicate).
 */
export function keyCopiesDisagree(seq: number): OfflineSyncError {
  return new OfflineSyncError(
    'ledger_unauthenticated_entry',
    `The site's ledger holds an entry whose stored key does not match its hashed data (seq ${seq}, changed outside the server); what met it is refused (a sync batch or a correction: nothing of it appended) until an operator restores it`,
  );
}
