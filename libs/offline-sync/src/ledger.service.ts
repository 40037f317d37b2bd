import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Clock, CommonError, jcs } from '@app/common';
import {
  GENESIS_HASH,
  LeafSource,
  leafOfRecordHash,
  LogVerification,
  LogVerifierService,
  Receipt,
  SealRefusals,
  SignedCheckpoint,
  StoreMac,
  storeTagFault,
  TransparencyLogService,
  UnauthenticatedEntryError,
  UnauthenticatedReason,
  ForeignSealRefusedError,
  verifyInclusion,
} from '@app/tlog';
import {
  AttendanceLog,
  LedgerEntryData,
  ledgerDeviceOf,
  PendingLogEntry,
  recordHashOfText,
  StoredLinkText,
} from './domain/attendance-log';
import { SyncCheckpoint, SyncOutcome } from './domain/sync-result';
import { StoredChainVerifier } from './domain/chain-verifier';
import {
  AppendAtHeadResult,
  AppendResult,
  BatchLease,
  PendingBatch,
  AttendanceLogRepository,
  KnownLinks,
  PreviousKey,
  TaggedLinkText,
} from './infrastructure/persistence/attendance-log.repository';
import { tlogConfig, TlogSettings } from '@app/tlog';
import { LinkKeyWaits } from './link-key-waits';
import { OfflineSyncError } from './offline-sync.errors';

const PAGE = 250;
/** The longest run of export work between two turns of the event loop, in ms. */
const SLICE_MS = 10;

/** `unauthenticated_entry`: an entry past the last checkpoint without a valid store MAC. */
export type LedgerVerification = Omit<LogVerification, 'reason'> & {
  reason?: LogVerification['reason'] | 'unauthenticated_entry';
};
export type { AppendAtHeadResult };

/**
 * Called with the links one append call added (in append order), once they are committed and
 * sealed, or their seal failed.
 */
export type AppendedListener = (appended: AttendanceLog[]) => Promise<void>;

/**
 * Where `readAuthenticatedChain` stopped a page: the first link that fails its check, its
 * stored recordHash (what a repair of the row changes), and whether the site's last checkpoint
 * covers it (`sealed`: rewritten after its seal; otherwise the seal's refusal, `/health` logs).
 */
export interface ChainStop {
  seq: number;
  /** `link_missing`: no link is stored at `seq` (deleted), while one after it, or the site's last checkpoint, says there was. */
  reason: UnauthenticatedReason | 'not_in_checkpoint' | 'seq_gap' | 'link_missing';
  /** undefined: no link stored at `seq` (`link_missing`). */
  recordHash?: string;
  sealed: boolean;
}

/** What one append gives back: per entry its link, and per touched site a signed checkpoint. */
/** Why a stored link is not the one the server wrote at its place (`LedgerService.checkedLink`). */
export type LinkFault = UnauthenticatedReason | 'seq_gap' | 'not_in_checkpoint';

/** A link that passed its check, or the reason it did not. */
export type CheckedLink =
  { link: AttendanceLog; fault?: undefined } | { link?: undefined; fault: LinkFault };

export interface LedgerAppend {
  results: AppendResult[];
  /** Receipts by entry key, for every appended or duplicate entry. */
  receipts: ByEntryKey<Receipt>;
  /** The checkpoint each receipt is proven against, by siteId. */
  checkpoints: Map<string, SignedCheckpoint>;
  /**
   * The pending markers of this append (`AppendResult` `batch`, `pendingBatch`; MongoDB's): the
   * caller checks it still holds them right before it screens the entries (`holdBatches`),
   * settles the held ones once screened (`settleBatches`), or releases them.
   */
  batches: BatchLease[];
}

/**
 * The per-site attendance ledger: appends (serialized per chain by the store), each batch
 * followed by a signed checkpoint of that site's transparency log (`@app/tlog`), receipts,
 * proofs, export and verification. Other modules (sync, timesheet corrections) append
 * through `append` / `appendWithReceipts`, never the repository.
 */
@Injectable()
export class LedgerService {
  private readonly logger = new Logger(LedgerService.name);
  private readonly originPrefix: string;
  private readonly appendedListeners: AppendedListener[] = [];
  /** Per log, the note of the latest checkpoint whose signature `readAuthenticatedChain` checked. */
  private readonly trustedCheckpoints = new Map<string, string>();
  /** Per site, the link `readAuthenticatedChain` last stopped before (logged once). */
  private readonly reportedStops = new Map<string, string>();
  /** Unsealed links under another key id that `readAuthenticatedChain` waits for. */
  private readonly keyWaits = new LinkKeyWaits();

  constructor(
    private readonly logs: AttendanceLogRepository,
    private readonly tlog: TransparencyLogService,
    private readonly verifier: LogVerifierService,
    @Inject(tlogConfig.KEY) tlogSettings: TlogSettings,
    private readonly storeMac: StoreMac,
    private readonly refusals: SealRefusals,
    @Optional() private readonly clock?: Clock,
  ) {
    this.originPrefix = tlogSettings.origin;
  }

  /** The transparency-log origin of a site's chain (the checkpoint's first line). */
  originOf(siteId: string): string {
    return `${this.originPrefix}/ledger/${siteId}`;
  }

  /** Appends with nothing screened after (its pending markers settled at once: `settleBatches`). */
  async append(entries: PendingLogEntry[]): Promise<AppendResult[]> {
    const { results, batches } = await this.appendWithReceipts(entries);
    await this.settleBatches(batches);
    return results;
  }

  /**
   * The pending markers of these results (`AppendResult` `batch`, `pendingBatch`: MongoDB
   * writes one before a batch's inserts) deleted, or the keys screened removed from them: their
   * entries are screened and projected. Fenced: one another took over meanwhile is left to it.
   */
  async settleBatches(leases: BatchLease[]): Promise<void> {
    await this.logs.settleBatches(leases);
  }

  /**
   * The pending markers among `leases` still held by their caller, renewed (what it screens now;
   * the others were taken over past their lease, and their taker screens them).
   */
  holdBatches(leases: BatchLease[]): Promise<BatchLease[]> {
    return this.logs.holdBatches(leases);
  }

  /**
   * The pending markers of these results handed back (the caller failed before screening their
   * entries): a retry of the same packets, or the sweep, screens them. Best effort: a store that
   * cannot be written leaves each to its lease (PENDING_BATCH_LEASE_MS).
   */
  async releaseBatches(leases: BatchLease[]): Promise<void> {
    await this.logs.releaseBatches(leases).catch((error: unknown) => {
      this.logger.warn({ err: error as Error }, 'Pending ledger batches not released');
    });
  }

  /** Pending markers whose lease ran out, taken over for the caller (`AttendanceLogRepository.staleBatches`). */
  staleBatches(limit: number): Promise<PendingBatch[]> {
    return this.logs.staleBatches(limit);
  }

  /** Hands links to the read models as an append does (a pending batch's, screened late). */
  async project(links: AttendanceLog[]): Promise<void> {
    await this.notifyAppended(links.map((log) => ({ status: 'appended', log })));
  }

  /**
   * Appends one entry only if its site's chain head is still at `headSeq`, atomically in the
   * store (`AttendanceLogRepository.appendAtHead`), then seals and notifies as `append` does.
   * `head_moved`: another link was appended since (by this process or another), nothing was
   * written, and the caller checks its rules again from the new head. Sync appends take no
   * condition and wait for nothing: only the conditional entry can lose.
   */
  async appendAtHead(entry: PendingLogEntry, headSeq: number): Promise<AppendAtHeadResult> {
    assertKeysOfData([entry]);
    await this.refuseWhileUnauthenticated([entry.siteId]);
    const result = await this.logs.appendAtHead(entry, headSeq);
    if (result.status === 'head_moved') return result;
    try {
      await this.seal([result.log]);
    } finally {
      await this.notifyAppended([result]);
    }
    return result;
  }

  /** Appends, then seals every touched site's log with a checkpoint and proves each entry in it. */
  async appendWithReceipts(entries: PendingLogEntry[]): Promise<LedgerAppend> {
    assertKeysOfData(entries);
    await this.refuseWhileUnauthenticated(entries.map((e) => e.siteId));
    const results = await this.logs.appendToChains(entries);
    try {
      const batches = batchesOf(results);
      return { results, batches, ...(await this.seal(results.map((r) => r.log))) };
    } catch (error) {
      // the caller screens nothing: a retry of the same batch does
      await this.releaseBatches(batchesOf(results));
      throw error;
    } finally {
      // read models take the entries even when the seal fails; after it, so that the work they
      // queue is not ahead of the caller's answer
      await this.notifyAppended(results);
    }
  }

  /** Seals every site these links belong to and proves each link in its site's checkpoint. */
  private async seal(links: AttendanceLog[]): Promise<Omit<LedgerAppend, 'results' | 'batches'>> {
    const bySite = new Map<string, AttendanceLog[]>();
    for (const link of links) {
      const list = bySite.get(link.siteId) ?? [];
      list.push(link);
      bySite.set(link.siteId, list);
    }
    const receipts = new ByEntryKey<Receipt>();
    const checkpoints = new Map<string, SignedCheckpoint>();
    let failed = false;
    let refused: UnauthenticatedEntryError | undefined;
    for (const [siteId, siteLinks] of bySite) {
      const origin = this.originOf(siteId);
      const size = Math.max(...siteLinks.map((l) => l.seq));
      const known = new Map(siteLinks.map((l) => [l.seq, l]));
      const sealed = await this.tlog
        .seal(
          origin,
          size,
          knownFirst(known, (from, to) => this.authenticatedLeaves(siteId, from, to, known)),
          siteLinks.map((l) => l.seq),
        )
        .catch((error: unknown) => {
          if (error instanceof UnauthenticatedEntryError) {
            this.refuse(siteId, error.seq, error.reason);
            refused = error;
            return undefined;
          }
          // the links are committed; the seal is tried again in the background, and the next
          // append (or this batch again) seals them too
          this.logger.error({ err: error, siteId }, 'Ledger checkpoint could not be signed');
          failed = true;
          return undefined;
        });
      // the other sites are still sealed (each failed seal is retried by itself)
      if (!sealed) continue;
      checkpoints.set(siteId, sealed.checkpoint);
      for (const link of siteLinks) {
        const receipt = sealed.receipts.get(link.seq);
        if (receipt) receipts.set(ledgerDeviceOf(link.data), link.data.packetId, receipt);
      }
    }
    if (refused) throw unauthenticatedError(refused.seq);
    // never signed over nodes rewritten outside the server (review LV #3): a device can do
    // nothing about it, so it gets the generic answer; the cause is in the logs and /health
    if (failed) {
      throw new OfflineSyncError(
        'checkpoint_unavailable',
        'The packets are stored but their checkpoint could not be signed; send the same batch again for receipts',
      );
    }
    return { receipts, checkpoints };
  }

  /**
   * Seals every site whose chain was committed past its last checkpoint with no seal running
   * for it (a crash between a batch's commit and its seal, here or on another replica: nothing
   * else would seal it until the site's next append). Each such site is counted by the tlog
   * (`mdai_tlog_unsealed_logs`, /health) until a checkpoint covers it, and sealed through
   * `sealTail`; a seal that fails is retried in the background by the tlog. Returns how many
   * sites were found unsealed. At start-up and periodically (`UnsealedTailSweep`).
   */
  async sealUnsealedTails(): Promise<number> {
    let found = 0;
    for await (const heads of this.logs.siteHeadPages(SITE_HEADS_PAGE)) {
      // the page's checkpoints in one read (a read per site cost a sweep of 20,000 sites
      // 20,000 reads a minute)
      const latest = await this.tlog.latestOfEach(heads.map((h) => this.originOf(h.siteId)));
      for (const { siteId, seq } of heads) {
        const origin = this.originOf(siteId);
        let sealed = latest.get(origin)?.size ?? 0;
        if (seq > sealed) {
          // a batch of this process between its commit and its seal is not left behind
          await this.tlog.idle(origin);
          sealed = (await this.tlog.latest(origin))?.size ?? 0;
        }
        if (seq <= sealed) {
          this.tlog.tailSealed(origin, sealed);
          continue;
        }
        found++;
        this.tlog.tailUnsealed(origin, seq);
        await this.sealTail(siteId, seq).catch(() => undefined);
      }
    }
    return found;
  }

  /**
   * Seals the site's chain up to `head` (its head seq when not given): links committed by the
   * server and left without a checkpoint. Each one is checked as any link a seal reads from the
   * store (hashed again, chained, a valid store MAC): one that is not the server's refuses the
   * seal as an append would (`ledger_unauthenticated_entry`, /health; `ledger:seal-foreign`).
   * Returns the size of the checkpoint now covering it (0: an empty chain).
   */
  async sealTail(siteId: string, head?: number): Promise<number> {
    const size = head ?? (await this.logs.headSeq(siteId));
    if (size === 0) return 0;
    const origin = this.originOf(siteId);
    try {
      const sealed = await this.tlog.seal(
        origin,
        size,
        (from, to) => this.authenticatedLeaves(siteId, from, to, new Map()),
        [],
      );
      this.logger.warn(
        { siteId, size: sealed.checkpoint.size },
        'Sealed ledger links committed without a checkpoint (a crash between a commit and its seal)',
      );
      return sealed.checkpoint.size;
    } catch (error) {
      if (error instanceof UnauthenticatedEntryError) {
        this.refuse(siteId, error.seq, error.reason);
        throw unauthenticatedError(error.seq);
      }
      this.logger.error(
        { err: error, siteId },
        'Ledger links committed without a checkpoint could not be sealed: tried again in the background',
      );
      throw error;
    }
  }

  /**
   * Adds a receipt to every accepted or duplicate result, and the checkpoints they are proven
   * against. `deviceId`: the device whose packets the results are (a sync is one device's).
   * Links appended by `batch` are proven against its checkpoints (computed while sealing);
   * links committed earlier against their site's latest checkpoint.
   */
  async attachReceipts(
    outcome: SyncOutcome,
    batch: LedgerAppend,
    deviceId: string,
  ): Promise<SyncOutcome> {
    const missing = outcome.results.filter(
      (r) => r.status !== 'rejected' && !batch.receipts.get(deviceId, r.packetId),
    );
    // copied only when receipts of earlier links are added to the batch's
    let { checkpoints, receipts } = batch;
    if (missing.length > 0) {
      checkpoints = new Map(checkpoints);
      receipts = receipts.copy();
      // links committed earlier: proven against their site's latest checkpoint, sealing
      // first when none covers them yet (an earlier seal failed)
      const found = await this.logs.findByKeys(
        missing.map((r) => ({ deviceId, packetId: r.packetId })),
      );
      const unsealed: AttendanceLog[] = [];
      for (const link of found) {
        if (!link) continue;
        const checkpoint = checkpoints.get(link.siteId);
        if (!checkpoint || checkpoint.size < link.seq) {
          unsealed.push(link);
          continue;
        }
        const receipt = await this.inclusionProof(link.siteId, link, checkpoint.size);
        receipts.set(ledgerDeviceOf(link.data), link.data.packetId, receipt);
      }
      const sealed = await this.seal(unsealed);
      for (const [siteId, checkpoint] of sealed.checkpoints) {
        if (!checkpoints.has(siteId)) checkpoints.set(siteId, checkpoint);
      }
      receipts.setAll(sealed.receipts);
    }
    const results = outcome.results.map((r) => {
      if (r.status === 'rejected') return r;
      const receipt = receipts.get(deviceId, r.packetId);
      if (!receipt) return r;
      const { seq, leafIndex, leafHash, treeSize, inclusionProof } = receipt;
      // a literal of the result's members, in their order, not `{ ...r, receipt }`: on Node 20
      // a spread followed by more members takes V8's slow path (~2 µs a result)
      return {
        packetId: r.packetId,
        status: r.status,
        seq: r.seq,
        recordHash: r.recordHash,
        receipt: { seq, leafIndex, leafHash, treeSize, inclusionProof },
      };
    });
    const used: SyncCheckpoint[] = [...checkpoints].map(([siteId, c]) => ({
      siteId,
      origin: c.origin,
      treeSize: c.size,
      rootHash: c.rootHash,
      note: c.note,
    }));
    return { ...outcome, results, checkpoints: used };
  }

  /**
   * Registers a read model fed with every committed append (the one hook on "entries
   * appended"), once the append is sealed or its seal failed. A listener that fails is logged and
   * does not fail the append: the entries are in the ledger, and a read model catches up from
   * `readChain`.
   */
  onAppended(listener: AppendedListener): void {
    this.appendedListeners.push(listener);
  }

  /**
   * The seq of a site's chain head (0: empty): where a read model's catch-up stops (links
   * appended after it are the next catch-up's).
   */
  headSeq(siteId: string): Promise<number> {
    return this.logs.headSeq(siteId);
  }

  /**
   * The size of the site's latest stored checkpoint (0: none): every seq up to it was sealed, so
   * a chain whose head is below it lost its tail (`link_missing` at head + 1). A checkpoint row
   * edited to claim more only stops the site's reads (its signature is /health's to check).
   */
  async sealedSize(siteId: string): Promise<number> {
    return (await this.tlog.latest(this.originOf(siteId)))?.size ?? 0;
  }

  /** Up to `limit` links of a site's chain after `afterSeq`, in seq order (read models catch up with it). */
  readChain(siteId: string, afterSeq: number, limit: number): Promise<AttendanceLog[]> {
    return this.logs.readChain(siteId, afterSeq, limit);
  }

  /**
   * `readChain` for read models that pay from the chain (timesheets): the page stops before the
   * first link that is not the one the server wrote at its place (findings M1, review T3 H-A and
   * M-1). Every link is hashed again from its stored texts and must chain to the one before it
   * (the first to the stored link at `afterSeq`, or the genesis); a link past the last
   * checkpoint must also carry a valid store MAC, and the last link of the page the checkpoint
   * covers must be in its tree (an inclusion proof against the signed root: through the hash
   * chain, it vouches for every sealed link before it). So neither a link written straight into
   * the store (a copied tag included) nor a rewritten sealed link is projected, whether the read
   * model catches up or reads the chain again from 0 (a rebuild, a reset, a gap). A fault past
   * the checkpoint is the seal's refusal too (`/health` degraded, appends 503 until an operator
   * seals or removes it); one in the sealed part is logged, and the read model stays before it.
   * `onStop`: told where the page stopped, when a link failed (the read model reports a sealed
   * one: docs/architecture.md, "Known gaps after review LV", #4).
   */
  async readAuthenticatedChain(
    siteId: string,
    afterSeq: number,
    limit: number,
    onStop?: (stop: ChainStop) => void,
  ): Promise<AttendanceLog[]> {
    const page = await this.logs.readTaggedChain(siteId, afterSeq, limit);
    if (page.length === 0) return [];
    const origin = this.originOf(siteId);
    const checkpoint = await this.tlog.latest(origin);
    const sealed = checkpoint?.size ?? 0;
    let prev = await this.recordHashAt(siteId, afterSeq);
    let end = page.length;
    let fault: Omit<ChainStop, 'sealed'> | undefined;
    for (let i = 0; i < page.length; i++) {
      const link = page[i].text;
      // a link deleted: the stop names the missing seq (not the next link's prevHash)
      if (link.seq !== afterSeq + 1 + i) {
        end = i;
        fault = { seq: afterSeq + 1 + i, reason: 'link_missing', recordHash: undefined };
        break;
      }
      const reason = prev === undefined ? 'seq_gap' : this.linkFault(link, prev, link.seq > sealed);
      if (reason) {
        end = i;
        fault = { seq: link.seq, reason, recordHash: link.recordHash };
        if (link.seq > sealed && reason !== 'seq_gap') {
          // another replica's link under a key this one cannot check (a rolling rotation):
          // waited for, not refused (review LV #9)
          // (one naming no key id is refused at once: no replica tags without one)
          if (reason === 'retired_key' && link.kid && this.waitsForKey(siteId, link)) {
            fault = undefined;
          } else this.refuse(siteId, link.seq, reason);
        }
        break;
      }
      prev = link.recordHash;
    }
    let lastSealed = end - 1;
    while (lastSealed >= 0 && page[lastSealed].log.seq > sealed) lastSealed--;
    if (lastSealed >= 0 && !(await this.inCheckpoint(origin, page[lastSealed].text, checkpoint!))) {
      // a sealed link rewritten (its hash recomputed, and the links after it chained again):
      // the links before it are still in the tree, it and those after are not. The first one
      // out of the tree, found by halving (a few proofs, only when a page fails)
      let [lo, hi] = [0, lastSealed];
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (await this.inCheckpoint(origin, page[mid].text, checkpoint!)) lo = mid + 1;
        else hi = mid;
      }
      end = lo;
      fault = {
        seq: page[lo].log.seq,
        reason: 'not_in_checkpoint',
        recordHash: page[lo].text.recordHash,
      };
    }
    if (end > 0) this.keyWaits.passed(siteId, page[end - 1].log.seq);
    if (fault) {
      this.reportStop(siteId, fault);
      onStop?.({ ...fault, sealed: fault.seq <= sealed });
    }
    const links: AttendanceLog[] = [];
    for (let i = 0; i < end; i++) links.push(page[i].log);
    return links;
  }

  /**
   * The site's link at exactly `seq`, checked as `readAuthenticatedChain` checks a link (hashed
   * again from its stored texts, chained to the stored link before it, and tagged under a key this
   * server holds past the last checkpoint, in the signed tree before it), or why it is not one
   * the server wrote (`fault`); undefined when the site has no link at `seq`. Unlike
   * `readAuthenticatedChain` it changes no state of the ledger's or the read model's: a fault
   * neither refuses the site's appends nor is logged as the read model's stop, so a request that
   * reads one link (a correction's target) cannot put the site into the refused state (review
   * of smallfix, M2). It is not free of side effects (review M4): the checkpoint and proof
   * reads go through the transparency log as every reader's do, so a latest checkpoint that
   * does not verify is logged (ALARM) and counted (`mdai_tlog_checkpoint_unverified_total`) and
   * remembered for /health, and stored Merkle nodes a proof finds missing are logged and
   * rebuilt from the log's entries (TransparencyLogService `latest`, `nodesOf`). `seq_gap`
   * answers a link whose predecessor is missing (a deleted link), before its own check.
   */
  async checkedLink(siteId: string, seq: number): Promise<CheckedLink | undefined> {
    const [row] = await this.logs.readTaggedChain(siteId, seq - 1, 1);
    // the page starts after seq - 1: a missing seq would hand over the link after it
    if (row?.log.seq !== seq) return undefined;
    const origin = this.originOf(siteId);
    const checkpoint = await this.tlog.latest(origin);
    const sealed = checkpoint?.size ?? 0;
    const prev = await this.recordHashAt(siteId, seq - 1);
    const fault = prev === undefined ? 'seq_gap' : this.linkFault(row.text, prev, seq > sealed);
    if (fault) return { fault };
    if (seq <= sealed && !(await this.inCheckpoint(origin, row.text, checkpoint!))) {
      return { fault: 'not_in_checkpoint' };
    }
    return { link: row.log };
  }

  /** For each key, the worker's accepted link just before (at, packetId) in signed time, on any site. */
  previousOfWorkers(keys: PreviousKey[]): Promise<(AttendanceLog | undefined)[]> {
    return this.logs.findPreviousOfWorkers(keys);
  }

  /**
   * `previousOfWorkers`, only each link's data (a lighter read where the store has one).
   * `known`: links the caller holds (its append's own), whose data the store may hand back
   * instead of reading it again.
   */
  previousDataOfWorkers(
    keys: PreviousKey[],
    known?: KnownLinks,
  ): Promise<(LedgerEntryData | undefined)[]> {
    return this.logs.findPreviousDataOfWorkers(keys, known);
  }

  /**
   * Distinct workers with accepted packets from these devices, timestamped within [from, to].
   * `known`: links the caller holds (its append's own), which the store may take from it
   * instead of reading them again.
   */
  workersOfDevices(
    deviceIds: string[],
    from: Date,
    to: Date,
    known?: KnownLinks,
  ): Promise<string[]> {
    return this.logs.listWorkersOfDevices(deviceIds, from, to, known);
  }

  /**
   * The chain as NDJSON lines, in seq order: JCS({siteId, seq, prevHash, recordHash, data,
   * meta}) with data and meta exactly the texts that were hashed (the members in JCS order).
   */
  async *exportChain(siteId: string): AsyncGenerator<string> {
    let slice = performance.now();
    for await (const page of this.pagesOfTexts(siteId)) {
      for (let i = 0; i < page.length; i++) {
        const link = page[i];
        yield `{"data":${link.dataJcs},"meta":${link.metaJcs},"prevHash":${jcs(link.prevHash)},"recordHash":${jcs(link.recordHash)},"seq":${jcs(link.seq)},"siteId":${jcs(link.siteId)}}\n`;
        // the consumer's awaits are microtasks: let the loop turn every SLICE_MS within a page too
        if (i % 64 === 63 && performance.now() - slice > SLICE_MS) {
          await yieldToLoop();
          slice = performance.now();
        }
      }
      await yieldToLoop();
      slice = performance.now();
    }
  }

  /**
   * Chain, Merkle tree, every stored checkpoint and the witness file, in one pass. Each
   * recordHash is recomputed over the stored JCS texts (`readChainTexts`): the bytes that were
   * hashed, so any edit of them, even into an equivalent JSON form, breaks the link.
   */
  async verify(siteId: string): Promise<LedgerVerification> {
    const result: LedgerVerification = await this.verifier.verify(
      this.originOf(siteId),
      (after) => this.pagesOfTexts(siteId, after),
      new StoredChainVerifier(siteId),
    );
    // the links past the last checkpoint: the server's own (a seal still to come) or not
    if (!result.ok && result.reason !== 'checkpoint_missing') return result;
    const foreign = await this.firstUnauthenticated(siteId);
    // a break found earlier in the chain (witnessed checkpoints gone) is the first to report
    if (!foreign || (result.brokenAtSeq !== undefined && result.brokenAtSeq < foreign.seq)) {
      return result;
    }
    return { ...result, ok: false, reason: 'unauthenticated_entry', brokenAtSeq: foreign.seq };
  }

  /**
   * How many links past the site's last checkpoint carry a tag stored under each key id (`null`:
   * none stored), for `keys:retag`'s report: a retired store-MAC key is needed until the next
   * seal covers the links tagged under it (the seal checks their tags, the checkpoint then
   * vouches for them). Read a thousand links at a time.
   */
  async unsealedTagKids(siteId: string): Promise<Map<string | null, number>> {
    const sealed = (await this.tlog.latest(this.originOf(siteId)))?.size ?? 0;
    const head = await this.logs.headSeq(siteId);
    const kids = new Map<string | null, number>();
    for (let from = sealed + 1; from <= head; from += SEAL_TAG_PAGE) {
      const to = Math.min(head, from + SEAL_TAG_PAGE - 1);
      for (const row of await this.logs.readTaggedTexts(siteId, from, to)) {
        kids.set(row.kid, (kids.get(row.kid) ?? 0) + 1);
      }
    }
    return kids;
  }

  /**
   * The first link past the site's last checkpoint that carries no valid store MAC under a key
   * this server holds (undefined: none). Only the server (holding STORE_MAC_KEY) tags links, so
   * such a link was written straight into the store, or tagged under a store-MAC key since
   * dropped from STORE_MAC_RETIRED_KEYS (or not yet known to this replica).
   */
  async firstUnauthenticated(
    siteId: string,
  ): Promise<{ seq: number; reason: UnauthenticatedReason } | undefined> {
    const sealed = (await this.tlog.latest(this.originOf(siteId)))?.size ?? 0;
    const head = await this.logs.headSeq(siteId);
    let prev = await this.recordHashAt(siteId, sealed);
    for (let from = sealed + 1; from <= head; from += SEAL_TAG_PAGE) {
      const rows = await this.logs.readTaggedTexts(
        siteId,
        from,
        Math.min(head, from + SEAL_TAG_PAGE - 1),
      );
      for (const row of rows) {
        const reason = this.linkFault(row, prev ?? '', true);
        if (reason) return { seq: row.seq, reason };
        prev = row.recordHash;
      }
    }
    return undefined;
  }

  /**
   * The links past the last checkpoint that carry no valid store MAC, for the operator to look at
   * before sealing them (`ledger:seal-foreign`); at most `limit`. The head is read first and
   * bounds the scan (a link appended meanwhile is neither listed nor offered). `through`: the
   * seq a seal may go up to without a link the operator was not shown (the head, or the seq
   * before the first link left off the list); `complete`: every link up to the head was looked at.
   */
  async unauthenticatedLinks(
    siteId: string,
    limit: number,
  ): Promise<{
    sealedSize: number;
    head: number;
    links: (AttendanceLog & { reason: UnauthenticatedReason })[];
    through: number;
    complete: boolean;
  }> {
    const head = await this.logs.headSeq(siteId);
    const sealedSize = (await this.tlog.latest(this.originOf(siteId)))?.size ?? 0;
    const links: (AttendanceLog & { reason: UnauthenticatedReason })[] = [];
    let after = sealedSize;
    let prev = (await this.recordHashAt(siteId, after)) ?? '';
    let through = head;
    scan: while (after < head) {
      const page = await this.logs.readTaggedChain(siteId, after, Math.min(PAGE, head - after));
      if (page.length === 0) break;
      for (const { log, text } of page) {
        if (log.seq > head) break scan;
        const reason = this.linkFault(text, prev, true);
        if (reason) {
          if (links.length >= limit) {
            through = log.seq - 1;
            break scan;
          }
          links.push({ ...log, reason });
        }
        prev = text.recordHash;
      }
      after = page[page.length - 1].log.seq;
    }
    return { sealedSize, head, links, through, complete: through === head };
  }

  /** The stored recordHash of the site's link at `seq` (undefined: none). */
  async recordHashOf(siteId: string, seq: number): Promise<string | undefined> {
    return seq === 0 ? undefined : this.recordHashAt(siteId, seq);
  }

  /**
   * The operator's decision (`ledger:seal-foreign`): signs a checkpoint over the site's chain up
   * to `size`, links without a valid store MAC included, if the link at `size` still has the
   * recordHash the operator was shown (`expectedHead`) and every link past the last checkpoint
   * up to it hashes to its recordHash and chains to the one before it (checked as the seal reads
   * them): the chain then is the one listed. Otherwise throws `ForeignSealRefusedError` and
   * signs nothing. Returns the checkpoint's size.
   */
  async sealForeign(siteId: string, size: number, expectedHead: string): Promise<number> {
    const origin = this.originOf(siteId);
    const sealedBefore = (await this.tlog.latest(origin))?.size ?? 0;
    const sealed = await this.tlog.seal(
      origin,
      size,
      (from, to) => this.listedLeaves(siteId, from, to, sealedBefore, size, expectedHead),
      [],
    );
    this.refusals.clear(origin);
    this.logger.warn(
      { siteId, size: sealed.checkpoint.size },
      'Ledger links without a valid store MAC sealed by an operator (ledger:seal-foreign)',
    );
    return sealed.checkpoint.size;
  }

  /**
   * The leaves an operator's seal reads: past `sealedBefore`, each link must hash to its
   * recordHash and chain to the one before it, and the one at `size` must be `expectedHead`.
   */
  private async listedLeaves(
    siteId: string,
    from: number,
    to: number,
    sealedBefore: number,
    size: number,
    expectedHead: string,
  ): Promise<string[]> {
    if (to <= sealedBefore) return this.logs.readRecordHashes(siteId, from, to);
    let prev = (await this.recordHashAt(siteId, from - 1)) ?? '';
    const rows = await this.logs.readTaggedTexts(siteId, from, to);
    const hashes: string[] = [];
    for (const row of rows) {
      if (row.seq > sealedBefore) {
        const reason = this.linkFault(row, prev, false);
        if (reason === 'record_hash_mismatch' || reason === 'prev_hash_mismatch') {
          throw new ForeignSealRefusedError(row.seq, reason);
        }
        if (row.seq === size && row.recordHash !== expectedHead) {
          throw new ForeignSealRefusedError(row.seq, 'head_changed');
        }
      }
      prev = row.recordHash;
      hashes.push(row.recordHash);
    }
    if (to >= size && rows[rows.length - 1]?.seq !== size) {
      throw new ForeignSealRefusedError(size, 'missing');
    }
    return hashes;
  }

  latestCheckpoint(siteId: string): Promise<SignedCheckpoint | undefined> {
    return this.tlog.latest(this.originOf(siteId));
  }

  listCheckpoints(siteId: string, afterSize: number, limit: number): Promise<SignedCheckpoint[]> {
    return this.tlog.listCheckpoints(this.originOf(siteId), afterSize, limit);
  }

  /**
   * The link at `seq`, or the link of (`deviceId`, `packetId`) on this site (a packetId is
   * unique per device, so it names a link only with its device).
   */
  async findLink(
    siteId: string,
    by: { seq?: number; packetId?: string; deviceId?: string },
  ): Promise<AttendanceLog | undefined> {
    if (by.packetId !== undefined && by.deviceId !== undefined) {
      const [link] = await this.logs.findByKeys([{ deviceId: by.deviceId, packetId: by.packetId }]);
      return link?.siteId === siteId ? link : undefined;
    }
    if (by.seq === undefined) return undefined;
    const [link] = await this.logs.readChain(siteId, by.seq - 1, 1);
    return link?.seq === by.seq ? link : undefined;
  }

  /** The link of each key (its device and packetId), in the order of `keys` (undefined: none). */
  linksOf(keys: { deviceId: string; packetId: string }[]): Promise<(AttendanceLog | undefined)[]> {
    return keys.length === 0 ? Promise.resolve([]) : this.logs.findByKeys(keys);
  }

  inclusionProof(siteId: string, link: AttendanceLog, treeSize: number): Promise<Receipt> {
    return this.tlog.inclusionProof(this.originOf(siteId), link.seq, link.recordHash, treeSize);
  }

  consistencyProof(siteId: string, first: number, second: number): Promise<Buffer[]> {
    return this.tlog.consistencyProof(this.originOf(siteId), first, second);
  }

  checkpointAt(siteId: string, size: number): Promise<SignedCheckpoint | undefined> {
    return this.tlog.checkpointAt(this.originOf(siteId), size);
  }

  /**
   * Why a stored link is not one the server wrote at its place (undefined: it is): its texts
   * do not hash to its recordHash (a genuine link's hash and tag copied onto other data), its
   * prevHash is not `prevHash` (the recordHash of the link before it), or, with `tagged`, its
   * store MAC does not hold under the active key. The tag covers the recordHash, and the
   * recordHash the site, seq, prevHash, data and meta: hashed again, a tag vouches for the row.
   */
  private linkFault(
    link: TaggedLinkText,
    prevHash: string,
    tagged: boolean,
  ): UnauthenticatedReason | undefined {
    if (recordHashOfText(link) !== link.recordHash) return 'record_hash_mismatch';
    if (link.prevHash !== prevHash) return 'prev_hash_mismatch';
    if (!tagged) return undefined;
    return storeTagFault(this.storeMac, 'ledger-link', link, link.recordHash);
  }

  /**
   * The stored recordHash of the link at `seq` (undefined: none), as stored, unchecked: one
   * indexed read, what a read model compares to see whether a link it stopped before changed.
   */
  storedRecordHash(siteId: string, seq: number): Promise<string | undefined> {
    return this.recordHashAt(siteId, seq);
  }

  /** The stored recordHash of the link at `seq` (the genesis hash for 0; undefined: none). */
  private async recordHashAt(siteId: string, seq: number): Promise<string | undefined> {
    if (seq === 0) return GENESIS_HASH;
    const [hash] = await this.logs.readRecordHashes(siteId, seq, seq);
    return hash;
  }

  /**
   * Whether `link` is in the tree `checkpoint` signs: its signature checked (once per
   * checkpoint), then an inclusion proof from the stored nodes against its signed root (a
   * rewritten node cannot make a different leaf prove).
   */
  private async inCheckpoint(
    origin: string,
    link: StoredLinkText,
    checkpoint: SignedCheckpoint,
  ): Promise<boolean> {
    // the columns beside the note as well: checkpointFault compares the note's body with them,
    // so a row whose size or rootHash was edited under an already trusted note is checked again
    const key = `${checkpoint.size}|${checkpoint.rootHash}|${checkpoint.note}`;
    if (this.trustedCheckpoints.get(origin) !== key) {
      if (this.verifier.checkpointFault(checkpoint, checkpoint.rootHash)) return false;
      this.trustedCheckpoints.set(origin, key);
    }
    try {
      const receipt = await this.tlog.inclusionProof(
        origin,
        link.seq,
        link.recordHash,
        checkpoint.size,
      );
      return verifyInclusion(
        link.seq - 1,
        checkpoint.size,
        leafOfRecordHash(link.recordHash),
        receipt.inclusionProof.map((hash) => Buffer.from(hash, 'base64')),
        Buffer.from(checkpoint.rootHash, 'hex'),
      );
    } catch (error) {
      // a node of the proof missing from the store (and not rebuilt: tlog names the log on
      // /health); any other failure (the store unreachable) is not a verdict on the link
      if (error instanceof CommonError && error.code === 'stored_record_invalid') return false;
      throw error;
    }
  }

  /**
   * Whether `readAuthenticatedChain` waits for an unsealed link whose tag names another key id
   * than this server's (`LinkKeyWaits`): logged once per link, refused once waited too long.
   */
  private waitsForKey(siteId: string, link: TaggedLinkText): boolean {
    const now = this.clock ? this.clock.now().getTime() : Date.now();
    const { waits, first } = this.keyWaits.wait(siteId, link.seq, now);
    if (waits && first) {
      this.logger.warn(
        { siteId, seq: link.seq, kid: link.kid ?? null, activeKid: this.storeMac.kid },
        'Ledger link past the last checkpoint tagged under a store-MAC key this server does not hold (a STORE_MAC_KEY rotation in progress?): read models wait for its seal',
      );
    }
    return waits;
  }

  /** Logs (once per site and link) that `readAuthenticatedChain` stops before a link. */
  private reportStop(siteId: string, fault: { seq: number; reason: string }): void {
    const text = `${fault.seq}/${fault.reason}`;
    if (this.reportedStops.get(siteId) === text) return;
    this.reportedStops.set(siteId, text);
    this.logger.error(
      { siteId, seq: fault.seq, reason: fault.reason },
      'Ledger link fails its check (hashed again, chained, tagged, in the checkpoint): read models stop before it',
    );
  }

  /**
   * The leaves a seal reads from the store (links it does not hold from its own append: another
   * process's, or left unsealed by a crash or a failed seal). Each such link is hashed again
   * from its stored texts, must chain to the link before it and carry a valid store MAC, unless
   * a checkpoint stored since covers it (an operator's seal, another process's). The links in
   * hand (`known`, the append's own) are not hashed again: their recordHash is the one the
   * append computed, and their prevHash must be the link before's.
   */
  private async authenticatedLeaves(
    siteId: string,
    from: number,
    to: number,
    known: ReadonlyMap<number, AttendanceLog>,
  ): Promise<string[]> {
    let prev = known.get(from - 1)?.recordHash ?? (await this.recordHashAt(siteId, from - 1));
    const faults: { seq: number; reason: UnauthenticatedReason }[] = [];
    const hashes: string[] = [];
    // a backlog's slice (up to SEAL_SLICE leaves) is read and hashed a part at a time, the loop
    // turning between parts: one read of a whole slice's texts held it ~75 ms (bench/verify's
    // setup, 100,000 links)
    for (let lo = from; lo <= to; lo += LEAF_TEXT_PAGE) {
      if (lo > from) await yieldToLoop();
      const rows = await this.logs.readTaggedTexts(
        siteId,
        lo,
        Math.min(to, lo + LEAF_TEXT_PAGE - 1),
      );
      for (const row of rows) {
        const own = known.get(row.seq);
        const reason = own
          ? own.prevHash === prev
            ? undefined
            : 'prev_hash_mismatch'
          : this.linkFault(row, prev ?? '', true);
        if (reason) faults.push({ seq: row.seq, reason });
        prev = own?.recordHash ?? row.recordHash;
        hashes.push(prev);
      }
    }
    if (faults.length > 0) {
      const origin = this.originOf(siteId);
      const sealed = (await this.tlog.latest(origin))?.size ?? 0;
      const fault = faults.find((f) => f.seq > sealed);
      if (fault) throw new UnauthenticatedEntryError(origin, fault.seq, fault.reason);
    }
    return hashes;
  }

  private refuse(siteId: string, seq: number, reason: UnauthenticatedReason): void {
    const origin = this.originOf(siteId);
    if (!this.refusals.of(origin)) {
      this.logger.error(
        { siteId, seq, reason },
        'Ledger link without a valid store MAC past the last checkpoint: not sealed; appends to this site are refused until an operator runs ledger:seal-foreign',
      );
    }
    this.refusals.refuse(origin, { log: 'ledger', siteId, seq, reason });
  }

  /**
   * A site whose seal was refused takes no append (it would be committed and left unsealed):
   * checked again against the store each time, so an operator's seal (from another process)
   * opens it.
   */
  private async refuseWhileUnauthenticated(siteIds: string[]): Promise<void> {
    for (const siteId of new Set(siteIds)) {
      const origin = this.originOf(siteId);
      if (!this.refusals.of(origin)) continue;
      const foreign = await this.firstUnauthenticated(siteId);
      if (!foreign) {
        this.refusals.clear(origin);
        continue;
      }
      this.refuse(siteId, foreign.seq, foreign.reason);
      throw unauthenticatedError(foreign.seq);
    }
  }

  /** A chain's stored texts, a page at a time in seq order (consumers yield between pages). */
  private async *pagesOfTexts(siteId: string, after = 0): AsyncGenerator<StoredLinkText[]> {
    for (;;) {
      const page = await this.logs.readChainTexts(siteId, after, PAGE);
      if (page.length > 0) yield page;
      if (page.length < PAGE) return;
      after = page[page.length - 1].seq;
    }
  }

  private async notifyAppended(results: AppendResult[]): Promise<void> {
    // and the links of a pending batch cut short, taken over by this call (never projected)
    const appended = results
      .filter((r) => r.status === 'appended' || r.pendingBatch !== undefined)
      .map((r) => r.log);
    if (appended.length === 0) return;
    for (const listener of this.appendedListeners) {
      try {
        await listener(appended);
      } catch (error) {
        this.logger.warn({ err: error as Error }, 'A ledger read model failed to take an append');
      }
    }
  }
}

/** The receipts' map key of a link: its ledger key. */
/**
 * Values by entry key (`LedgerEntryKey`: device, then packetId), in maps of maps: a lookup hashes
 * the strings the caller holds (a string's hash is kept with it: a packet's packetId is hashed
 * once, however often it is looked up) instead of building and hashing a key text each time.
 */
export class ByEntryKey<T> {
  private readonly byDevice = new Map<string, Map<string, T>>();

  get(deviceId: string, packetId: string): T | undefined {
    return this.byDevice.get(deviceId)?.get(packetId);
  }

  set(deviceId: string, packetId: string, value: T): void {
    let device = this.byDevice.get(deviceId);
    if (!device) this.byDevice.set(deviceId, (device = new Map<string, T>()));
    device.set(packetId, value);
  }

  /** Sets every entry of `other` here (its values over these for the same key). */
  setAll(other: ByEntryKey<T>): void {
    for (const [deviceId, device] of other.byDevice) {
      for (const [packetId, value] of device) this.set(deviceId, packetId, value);
    }
  }

  copy(): ByEntryKey<T> {
    const copy = new ByEntryKey<T>();
    copy.setAll(this);
    return copy;
  }
}

/** Links a seal reads and hashes again between two turns of the event loop. */
const LEAF_TEXT_PAGE = 256;

/** Sites whose head seqs one read of the sweep for unsealed tails gets. */
const SITE_HEADS_PAGE = 500;

/** Links whose store MACs one read checks, when the unsealed tail is looked at. */
const SEAL_TAG_PAGE = 1000;

/** The pending markers these results name, once each. */
function batchesOf(results: AppendResult[]): BatchLease[] {
  const leases = new Set<BatchLease>();
  for (const r of results) {
    if (r.status === 'appended' && r.batch !== undefined) leases.add(r.batch);
    if (r.pendingBatch !== undefined) leases.add(r.pendingBatch);
  }
  return [...leases];
}

function unauthenticatedError(seq: number): OfflineSyncError {
  return new OfflineSyncError(
    'ledger_unauthenticated_entry',
    `The site's ledger holds an entry the server did not write (seq ${seq}, past its last checkpoint); nothing is appended to it until an operator seals or removes it (ledger:seal-foreign)`,
  );
}

/** A leaf source that answers from the links in hand when they cover the range, else the store. */
function knownFirst(known: ReadonlyMap<number, AttendanceLog>, read: LeafSource): LeafSource {
  return async (from, to) => {
    const hashes: string[] = [];
    for (let seq = from; seq <= to; seq++) {
      const link = known.get(seq);
      if (link === undefined) return read(from, to);
      hashes.push(link.recordHash);
    }
    return hashes;
  };
}

/**
 * Every entry's key (`packetId`, what the store's unique key and duplicate lookup hold) is the
 * packetId its hashed data names, or the call is a caller's bug, refused before anything is
 * written (an internal error): stored, such a link would read tampered from its append on (its
 * key copy disagrees with its data), and its data's packet could be appended again.
 */
export function assertKeysOfData(entries: PendingLogEntry[]): void {
  for (let i = 0; i < entries.length; i++) {
    const data = entries[i].data as unknown;
    const named =
      typeof data === 'object' && data !== null
        ? (data as { packetId?: unknown }).packetId
        : undefined;
    if (entries[i].packetId !== named) {
      throw new Error(
        `Ledger append refused: entry ${i} of ${entries.length} (site ${JSON.stringify(entries[i].siteId)}) is keyed by a packetId its data does not name; nothing was appended`,
      );
    }
  }
}
