import { Inject, Injectable, Logger, OnModuleDestroy, Optional } from '@nestjs/common';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { Clock, CommonError, Counter, Gauge, KeyedTurns, MetricsRegistry } from '@app/common';
import { SignedCheckpoint, checkpointText, parseCheckpointText } from './domain/checkpoint';
import {
  appendLeaves,
  consistencyRanges,
  inclusionProofsOf,
  inclusionRanges,
  leafOfRecordHash,
  NodeKey,
  nodeId,
  nodesFor,
  perfectNodes,
  rangeHash,
  verifyConsistency,
} from './domain/merkle';
import { noteSignedBy, parseNote } from './domain/signed-note';
import { TlogRepository } from './infrastructure/persistence/tlog.repository';
import { LOG_CLOCK } from './log-clock';
import { LogKeyService } from './log-key.service';
import { WitnessLog, WitnessLine } from './witness-log';

/** Reads the recordHashes of seq fromSeq..toSeq (inclusive) of a log, in seq order. */
export type LeafSource = (fromSeq: number, toSeq: number) => Promise<string[]>;

/** What a client keeps to prove later that an entry was in the log. */
export interface Receipt {
  seq: number;
  leafIndex: number;
  /** hex SHA-256(0x00 ‖ recordHash bytes) */
  leafHash: string;
  treeSize: number;
  /** base64 hashes, RFC 9162 §2.1.3 order */
  inclusionProof: string[];
}

export interface SealResult {
  checkpoint: SignedCheckpoint;
  receipts: Map<number, Receipt>;
}

/**
 * The most entries a seal appends to the tree between two turns of the event loop: some 5 to
 * 25 ms of reading, hashing and storing their nodes (bench/seal-backlog), the node writes
 * most of it. A sync batch (≤ 500 entries) is one slice.
 */
export const SEAL_SLICE = 1024;
/** The first wait before a failed seal is tried again; doubled after each failure, up to the max. */
export const SEAL_RETRY_FIRST_MS = 1000;
/** The longest wait between two background retries of a failed seal (the doubling's cap). */
export const SEAL_RETRY_MAX_MS = 60_000;
/** The most replaced nodes a rebuild names in its ALARM line (the count is always given). */
const REPLACED_LOGGED = 64;
/** How often a log refused for mismatched nodes is read again for /health (`recheckMismatched`). */
const MISMATCH_RECHECK_MS = 1000;
/**
 * How long entries found not to give a log's signed root are believed without a second read of
 * the whole log (an operator may restore them from a backup meanwhile).
 */
export const ENTRIES_MISMATCH_TTL_MS = 10 * 60_000;

/**
 * A log whose stored Merkle nodes are missing (deleted outside the server), as a seal or a
 * proof found it, and why the server could not rebuild them (yet).
 */
export interface LostNodes {
  origin: string;
  since: Date;
  reason: string;
}

/**
 * A log whose latest stored checkpoint does not verify (its note is not signed by a key of the
 * log's key history over the row's origin, size and root): a row written straight into the store.
 */
export interface UnverifiedCheckpoint {
  origin: string;
  size: number;
  since: Date;
  /** The size of the largest stored checkpoint that verifies, trusted instead (0: none). */
  trustedSize: number;
  /**
   * No stored checkpoint of the log verifies under its key history: the configured log key is
   * most likely not the one the store was sealed with (wrong keys), rather than rows forged.
   */
  keyMismatch: boolean;
}

/**
 * A log whose stored Merkle nodes do not give the root its last verified checkpoint signs
 * (rewritten outside the server) and whose entries do not give it either: no seal signs over
 * them (review LV #3) until the nodes are put back.
 */
export interface MismatchedNodes {
  origin: string;
  /** The size of the checkpoint whose root the nodes do not give. */
  size: number;
  since: Date;
  reason: string;
}

/**
 * A seal refused because the log's stored Merkle nodes do not give the root its last verified
 * checkpoint signs and could not be rebuilt from its entries (`mismatchedNodes`). Tried again
 * in the background: it seals once the nodes are put back.
 */
export class NodesMismatchError extends Error {
  constructor(
    readonly origin: string,
    readonly size: number,
    /**
     * Why the nodes were not rebuilt when that may pass (lv3mend review L1): the rebuild failed
     * (a store error, its message) or could not run; undefined when the log's entries were
     * found not to give the signed root either (both rewritten: only a restore helps).
     */
    readonly retryable?: string,
  ) {
    super(
      `the stored Merkle nodes of log ${origin} do not give the root its checkpoint of size ${size} signs (rewritten outside the server): not sealed`,
    );
  }
}

/** A failed seal to try again: the log's entries up to `size` have no checkpoint yet. */
interface SealRetry {
  size: number;
  leaves: LeafSource;
  delayMs: number;
  timer?: NodeJS.Timeout;
}

/**
 * The shared transparency log: an RFC 6962 Merkle tree over each log's entries (leaf input =
 * the entry's recordHash bytes), a signed C2SP checkpoint after every append batch, inclusion
 * and consistency proofs, and the witness file. The entries themselves stay with their owner
 * (the ledger, the vault audit); `seal` reads the new ones through a LeafSource.
 */
@Injectable()
export class TransparencyLogService implements OnModuleDestroy {
  private readonly logger = new Logger(TransparencyLogService.name);
  /** Each log's seals, one at a time in this process. */
  private readonly seals = new KeyedTurns();
  private readonly witnessed = new Map<string, { size: number; rootHash: string }>();
  private readonly heads = new Map<
    string,
    { checkpoint?: SignedCheckpoint; compact: Map<string, Buffer> }
  >();
  private readonly alarms: Counter<'log'>;
  private readonly unsealed: Gauge;
  private readonly retries = new Map<string, SealRetry>();
  /**
   * Logs an owner's sweep (`tailUnsealed`) found with committed entries past their last
   * checkpoint, none of this process's seals having failed on them (a crash between a commit and
   * its seal, here or on another replica): the size found and since when, until a seal covers it.
   */
  private readonly tails = new Map<string, { size: number; since: Date }>();
  /** Logs whose stored nodes are missing and not rebuilt (for /health). */
  private readonly lost = new Map<string, LostNodes>();
  /** The last leaf source a seal of each log was given: what a proof rebuilds lost nodes from. */
  private readonly sources = new Map<string, LeafSource>();
  /** The logs' owners' reads of their entries, by origin (`addLeafSources`). */
  private readonly resolvers: ((origin: string) => LeafSource | undefined)[] = [];
  private readonly rebuilds = new Map<string, Promise<boolean>>();
  /**
   * Per log, the last latest row read (by `checkpointId`) and what it resolved to: the row
   * itself when its note verifies, else the largest stored checkpoint that does (or none).
   */
  private readonly trusted = new Map<string, { id: string; checkpoint?: SignedCheckpoint }>();
  /** Logs whose latest stored checkpoint does not verify (for /health). */
  private readonly unverified = new Map<string, UnverifiedCheckpoint>();
  private readonly forgedRows: Counter<'log'>;
  /** Logs whose stored nodes do not give their signed root, not rebuilt: seals refused (for /health). */
  private readonly mismatched = new Map<string, MismatchedNodes>();
  /**
   * Per log, the checkpoint size whose root its entries were found not to give, and when: no
   * second read of the log for that checkpoint or a larger one (which extends it) until
   * `ENTRIES_MISMATCH_TTL_MS` has passed.
   */
  private readonly entriesMismatchAt = new Map<string, { size: number; at: number }>();
  /** Logs whose current mismatch episode was alarmed (one ALARM and metric per episode). */
  private readonly mismatchAlarmed = new Set<string>();
  /** The last /health re-read of each mismatched log (`recheckMismatched`), in clock ms. */
  private readonly mismatchRechecked = new Map<string, number>();
  /** Why the last rebuild of a log failed (an error, not a mismatch), for /health. */
  private readonly rebuildErrors = new Map<string, string>();
  private readonly rewrittenNodes: Counter<'log'>;
  private closed = false;

  constructor(
    private readonly store: TlogRepository,
    private readonly keys: LogKeyService,
    private readonly witness: WitnessLog,
    @Inject(LOG_CLOCK) private readonly clock: Clock,
    @Optional() metrics?: MetricsRegistry,
  ) {
    this.alarms = new Counter({
      name: 'mdai_tlog_inconsistency_total',
      help: 'Checkpoints inconsistent with an earlier witnessed checkpoint of the same log (an alarm)',
      labelNames: ['log'],
      registers: metrics ? [metrics] : [],
    });
    this.alarms.inc({ log: 'ledger' }, 0);
    this.alarms.inc({ log: 'vault-audit' }, 0);
    this.alarms.inc({ log: 'payroll-closes' }, 0);
    this.forgedRows = new Counter({
      name: 'mdai_tlog_checkpoint_unverified_total',
      help: 'Latest stored checkpoints whose signed note does not verify (written outside the server; an alarm): not trusted',
      labelNames: ['log'],
      registers: metrics ? [metrics] : [],
    });
    this.forgedRows.inc({ log: 'ledger' }, 0);
    this.forgedRows.inc({ log: 'vault-audit' }, 0);
    this.forgedRows.inc({ log: 'payroll-closes' }, 0);
    this.rewrittenNodes = new Counter({
      name: 'mdai_tlog_nodes_mismatch_total',
      help: 'Stored Merkle nodes found not to give the root of the last checkpoint of their log (rewritten outside the server; an alarm): rebuilt from the entries when those give it, else the log is not sealed until they are put back',
      labelNames: ['log'],
      registers: metrics ? [metrics] : [],
    });
    this.rewrittenNodes.inc({ log: 'ledger' }, 0);
    this.rewrittenNodes.inc({ log: 'vault-audit' }, 0);
    this.rewrittenNodes.inc({ log: 'payroll-closes' }, 0);
    const count = () => this.unsealedLogs().length;
    this.unsealed = new Gauge({
      name: 'mdai_tlog_unsealed_logs',
      help: 'Logs with committed entries past their last checkpoint: a seal of this process failed, or the start-up and periodic sweep found them (a crash between a commit and its seal); sealed again in the background',
      registers: metrics ? [metrics] : [],
      collect() {
        this.set(count());
      },
    });
  }

  onModuleDestroy(): void {
    this.closed = true;
    for (const retry of this.retries.values()) clearTimeout(retry.timer);
    this.retries.clear();
    this.tails.clear();
  }

  /**
   * An owner found `size` entries of `origin` committed past its last checkpoint (`size`: its
   * head) with no seal of this process failing on them: counted by `mdai_tlog_unsealed_logs` and
   * `unsealedLogs` (/health) until a checkpoint of that size is stored (`covered`), by the seal
   * the owner starts next or any other.
   */
  tailUnsealed(origin: string, size: number): void {
    if (this.closed) return;
    const known = this.tails.get(origin);
    if (known && known.size >= size) return;
    this.tails.set(origin, { size, since: known?.since ?? this.clock.now() });
  }

  /**
   * An owner's sweep found the log sealed up to its head (`size`): a tail it had counted is
   * covered (by another process's seal, an operator's).
   */
  tailSealed(origin: string, size: number): void {
    this.covered(origin, size);
  }

  /**
   * Logs with committed entries past their last checkpoint as this process knows them: a seal of
   * its own failed on them (retried in the background), or an owner's sweep found them. For
   * `mdai_tlog_unsealed_logs` and /health.
   */
  unsealedLogs(): { origin: string; size: number; since?: Date; retrying: boolean }[] {
    const logs = new Map<
      string,
      { origin: string; size: number; since?: Date; retrying: boolean }
    >();
    for (const [origin, tail] of this.tails)
      logs.set(origin, { origin, size: tail.size, since: tail.since, retrying: false });
    for (const [origin, retry] of this.retries) {
      const tail = logs.get(origin);
      logs.set(origin, {
        origin,
        size: Math.max(retry.size, tail?.size ?? 0),
        since: tail?.since,
        retrying: true,
      });
    }
    return [...logs.values()];
  }

  /**
   * Brings the tree of `origin` up to `size` entries and signs a checkpoint for it, then
   * returns receipts for the requested seqs. Serialized per log in this process; two
   * processes sealing at once write the same nodes and each a valid checkpoint.
   */
  seal(origin: string, size: number, leaves: LeafSource, seqs: number[]): Promise<SealResult> {
    this.sources.set(origin, leaves);
    const sealed = this.seals.run(origin, () => this.sealNow(origin, size, leaves, seqs));
    sealed.then(
      (done) => this.covered(origin, done.checkpoint.size),
      (error: unknown) => {
        // an entry the owner refused to have sealed fails every retry the same way
        if ((error as { retry?: boolean } | undefined)?.retry !== false) {
          this.retryLater(origin, size, leaves);
        }
      },
    );
    return sealed;
  }

  /** Settles when the seals of `origin` this process has started are done (failed or not). */
  idle(origin: string): Promise<void> {
    return this.seals.idle(origin);
  }

  /**
   * The log's latest checkpoint the server signed: the stored row of the largest tree when its
   * note is signed by a key of the log's key history over the row's origin, size and root. A row
   * that is not (written straight into the store) is never trusted: it is an alarm (logs,
   * `mdai_tlog_checkpoint_unverified_total`, /health) and the largest stored checkpoint that
   * verifies answers instead (undefined: none), so what lies past it is still checked as
   * unsealed. One signature check per new latest row: the answer is kept until the row changes.
   */
  async latest(origin: string): Promise<SignedCheckpoint | undefined> {
    return this.trustedLatest(origin, await this.store.latestCheckpoint(origin));
  }

  /**
   * `latest` of each of these logs, their stored latest rows read at once (one read per call,
   * not per log: a sweep over every site's log): the same answer per log, with the same
   * checks and alarms (undefined: no checkpoint the server signed).
   */
  async latestOfEach(origins: string[]): Promise<Map<string, SignedCheckpoint | undefined>> {
    const rows = await this.store.latestCheckpoints(origins);
    const latest = new Map<string, SignedCheckpoint | undefined>();
    for (const origin of origins)
      latest.set(origin, await this.trustedLatest(origin, rows.get(origin)));
    return latest;
  }

  /** What `latest` answers for the log's latest stored row (`row`; undefined: none). */
  private async trustedLatest(
    origin: string,
    row: SignedCheckpoint | undefined,
  ): Promise<SignedCheckpoint | undefined> {
    if (!row) {
      this.trusted.delete(origin);
      this.unverified.delete(origin);
      return undefined;
    }
    const id = checkpointId(row);
    const known = this.trusted.get(origin);
    if (known?.id === id) return known.checkpoint;
    let checkpoint: SignedCheckpoint | undefined = row;
    if (this.verifies(row)) {
      this.unverified.delete(origin);
    } else {
      checkpoint = await this.largestVerified(origin, row.size);
      const keyMismatch = checkpoint === undefined;
      if (this.unverified.get(origin)?.size !== row.size) {
        this.forgedRows.inc({ log: logLabel(origin) });
        this.logger.error(
          {
            origin,
            size: row.size,
            trustedSize: checkpoint?.size ?? 0,
            reason: 'checkpoint_unverified',
            keyMismatch,
          },
          keyMismatch
            ? "ALARM: no stored checkpoint of a log is signed by a key of the log's key history: the configured TLOG_SIGNING_KEY (and TLOG_RETIRED_KEYS) most likely do not match the store's (wrong keys: e.g. a DATA_DIR made by npm start, whose secrets.json production ignores), or the rows were written outside the server: not trusted"
            : "ALARM: the latest stored checkpoint of a log is not signed by the log's key (written outside the server): not trusted",
        );
      }
      this.unverified.set(origin, {
        origin,
        size: row.size,
        since: this.unverified.get(origin)?.since ?? this.clock.now(),
        trustedSize: checkpoint?.size ?? 0,
        keyMismatch,
      });
    }
    // a newer row read meanwhile by another call keeps its answer
    if (!this.trusted.has(origin) || this.trusted.get(origin) === known)
      this.trusted.set(origin, { id, checkpoint });
    return checkpoint;
  }

  /** Logs whose latest stored checkpoint does not verify (not trusted): for /health. */
  unverifiedCheckpoints(): UnverifiedCheckpoint[] {
    return [...this.unverified.values()].map((u) => ({ ...u }));
  }

  checkpointAt(origin: string, size: number): Promise<SignedCheckpoint | undefined> {
    return this.store.checkpointAt(origin, size);
  }

  listCheckpoints(origin: string, afterSize: number, limit: number): Promise<SignedCheckpoint[]> {
    return this.store.listCheckpoints(origin, afterSize, limit);
  }

  /** Inclusion proof of the entry at `seq` in the tree of `treeSize` (≤ the latest checkpoint). */
  async inclusionProof(
    origin: string,
    seq: number,
    recordHash: string,
    treeSize: number,
  ): Promise<Receipt> {
    const ranges = inclusionRanges(seq - 1, treeSize);
    const nodes = await this.nodesOf(origin, nodesFor(ranges));
    return {
      seq,
      leafIndex: seq - 1,
      leafHash: leafOfRecordHash(recordHash).toString('hex'),
      treeSize,
      inclusionProof: ranges.map(([lo, hi]) => rangeHash(lo, hi, nodes).toString('base64')),
    };
  }

  async consistencyProof(origin: string, first: number, second: number): Promise<Buffer[]> {
    const ranges = consistencyRanges(first, second);
    const nodes = await this.nodesOf(origin, nodesFor(ranges));
    return ranges.map(([lo, hi]) => rangeHash(lo, hi, nodes));
  }

  /** The root of the tree of `size` from the stored nodes. */
  async rootAt(origin: string, size: number): Promise<Buffer> {
    const nodes = await this.store.findNodes(origin, perfectNodes(0, size));
    return rangeHash(0, size, nodes);
  }

  witnessLines(origin: string): AsyncGenerator<WitnessLine> {
    return this.witness.linesOf(origin);
  }

  /**
   * The head of `checkpoint`'s tree: the perfect nodes of [0, size) from the store, which give
   * the root it signs. Nodes that do not were rewritten outside the server (an ALARM, and
   * `mdai_tlog_nodes_mismatch_total`): no checkpoint is signed over them (review LV #3). They
   * are rebuilt from the log's entries when those give the signed root (`rebuild`, a repair);
   * otherwise this throws `NodesMismatchError` and the log is in `mismatchedNodes` (/health;
   * only then: not while a rebuild runs) until a seal or `recheckMismatched` finds the nodes
   * put back.
   */
  private async headAt(
    origin: string,
    checkpoint: SignedCheckpoint | undefined,
    leaves: LeafSource | undefined,
  ): Promise<{ checkpoint?: SignedCheckpoint; compact: Map<string, Buffer> }> {
    const size = checkpoint?.size ?? 0;
    let compact = await this.nodesOf(origin, perfectNodes(0, size), leaves);
    if (checkpoint && !this.givesRoot(compact, checkpoint)) {
      if (!this.mismatchAlarmed.has(origin)) {
        this.mismatchAlarmed.add(origin);
        this.rewrittenNodes.inc({ log: logLabel(origin) });
        this.logger.error(
          {
            origin,
            size,
            storedRoot: rangeHash(0, size, compact).toString('hex'),
            signedRoot: checkpoint.rootHash,
            reason: 'nodes_mismatch',
          },
          'ALARM: the stored Merkle nodes of a log do not give the root its last checkpoint signs (rewritten outside the server): not signed over; rebuilding them from its entries',
        );
      }
      // not degraded while a rebuild runs: only a log left refused is listed on /health
      if (leaves && (await this.rebuild(origin, leaves))) {
        compact = await this.nodesOf(origin, perfectNodes(0, size), leaves);
      }
      if (!this.givesRoot(compact, checkpoint)) {
        const error = this.rebuildErrors.get(origin);
        const refuted = leaves !== undefined && this.entriesRefuted(origin, size);
        const reason = !leaves
          ? 'the next append to the log rebuilds them from its entries'
          : refuted
            ? `the log's entries do not give that root either: not rebuilt, no checkpoint signed until the nodes are put back (verify the log)`
            : `not rebuilt${error ? `: ${error}` : ''}`;
        this.mismatched.set(origin, {
          origin,
          size,
          since: this.mismatched.get(origin)?.since ?? this.clock.now(),
          reason,
        });
        throw new NodesMismatchError(origin, size, refuted ? undefined : reason);
      }
    }
    this.mismatchAlarmed.delete(origin);
    this.mismatchRechecked.delete(origin);
    if (this.mismatched.delete(origin)) {
      this.logger.warn(
        { origin, size },
        'The stored Merkle nodes of a log give its signed root again: sealing it again',
      );
    }
    return { checkpoint, compact };
  }

  /** Whether the perfect nodes of the checkpoint's tree give the root it signs. */
  private givesRoot(compact: ReadonlyMap<string, Buffer>, checkpoint: SignedCheckpoint): boolean {
    return rangeHash(0, checkpoint.size, compact).toString('hex') === checkpoint.rootHash;
  }

  /** Logs whose stored nodes do not give their signed root and were not rebuilt: for /health. */
  mismatchedNodes(): MismatchedNodes[] {
    return [...this.mismatched.values()].map((m) => ({ ...m }));
  }

  /**
   * A log refused for mismatched nodes clears when a seal of this process finds them put back;
   * one no request of which reaches this process (a replica, or a log refused at start-up)
   * would stay listed: each is read again, at most once a second (its latest verified
   * checkpoint and the stored perfect nodes of its tree), and cleared when they give its root.
   * Reads only: nothing is rebuilt or sealed here. A failed read keeps the log listed.
   */
  async recheckMismatched(): Promise<void> {
    const now = this.clock.now().getTime();
    await Promise.all(
      [...this.mismatched.entries()].map(async ([origin, mismatch]) => {
        if (now - (this.mismatchRechecked.get(origin) ?? 0) < MISMATCH_RECHECK_MS) return;
        this.mismatchRechecked.set(origin, now);
        try {
          const latest = await this.latest(origin);
          // a checkpoint smaller than the one the nodes failed (its row deleted, the store
          // rolled back) proves nothing about them: the log stays listed
          if (!latest || latest.size < mismatch.size) return;
          const keys = perfectNodes(0, latest.size);
          const nodes = await this.store.findNodes(origin, keys);
          if (!holdsAll(nodes, keys) || !this.givesRoot(nodes, latest)) return;
          // a seal that found them rewritten again meanwhile keeps its listing
          if (this.mismatched.get(origin) !== mismatch) return;
          this.mismatched.delete(origin);
          this.mismatchAlarmed.delete(origin);
          this.mismatchRechecked.delete(origin);
          this.logger.warn(
            { origin, size: latest.size },
            'The stored Merkle nodes of a log give its signed root again: sealing it again',
          );
        } catch (error) {
          this.logger.warn(
            { err: error, origin },
            'Mismatched Merkle nodes could not be read again',
          );
        }
      }),
    );
  }

  /**
   * Whether the log's entries were found, less than `ENTRIES_MISMATCH_TTL_MS` ago, not to give
   * the root of its checkpoint of some size ≤ `size`: they cannot give the root of a checkpoint
   * extending it either, so the log is not read again. Past that, it is (restored meanwhile?).
   */
  private entriesRefuted(origin: string, size: number): boolean {
    const found = this.entriesMismatchAt.get(origin);
    if (!found) return false;
    if (this.clock.now().getTime() - found.at >= ENTRIES_MISMATCH_TTL_MS) {
      this.entriesMismatchAt.delete(origin);
      return false;
    }
    return found.size <= size;
  }

  private async sealNow(
    origin: string,
    size: number,
    leaves: LeafSource,
    seqs: number[],
  ): Promise<SealResult> {
    // the head this process sealed last (read from the store once): its checkpoint and the
    // perfect nodes of [0, size), which is all an append needs
    let head = this.heads.get(origin);
    // never a row the server did not sign: an append builds on the largest that verifies; and
    // on it when another process (a replica, an operator's seal-foreign) sealed past this one's
    // head since: the entries up to it are then its tree's, never read again here (read again,
    // an entry rewritten in the store after that seal would be signed into this one's tree)
    const stored = await this.latest(origin);
    if (!head || (stored && stored.size > (head.checkpoint?.size ?? 0))) {
      head = await this.headAt(origin, stored, leaves);
    }
    const latest = head.checkpoint;
    const from = latest?.size ?? 0;
    if (latest && size <= from) {
      // a later batch already sealed past these entries: prove against its checkpoint
      return {
        checkpoint: latest,
        receipts: await this.receiptsFromStore(origin, seqs, from, leaves),
      };
    }
    // A backlog (entries committed without a checkpoint: a restore, seals that failed for
    // long, links written straight into the store) is appended slice by slice, the loop
    // turning between slices: the owner's reads answer in microtasks on SQLite, so one pass
    // held the event loop for seconds at a million entries, and kept every hash in memory.
    // Each slice's nodes are stored before the next, and only the tree's perfect nodes so far
    // are carried on. The last slice (the whole append, for a batch) is kept in hand: the
    // root, the consistency check and its leaves' proofs need no store reads.
    let compact = head.compact;
    let at = from;
    const lastSlice = Math.max(from, size - SEAL_SLICE);
    while (at < lastSlice) {
      const end = Math.min(lastSlice, at + SEAL_SLICE);
      const slice = appendLeaves(compact, at, await this.leafHashes(origin, leaves, at, end, size));
      await this.store.putNodes(origin, slice.created);
      compact = perfectNodesOf(slice.nodes, end);
      at = end;
      await yieldToLoop();
    }
    const leafHashes = await this.leafHashes(origin, leaves, at, size, size);
    const { created, nodes } = appendLeaves(compact, at, leafHashes);
    await this.store.putNodes(origin, created);
    const root = rangeHash(0, size, nodes);
    // the signing time goes inside the signed text: a rewritten signedAt column shows
    const signedAt = this.clock.now();
    const text = checkpointText({ origin, size, rootHash: root, timestamp: signedAt.getTime() });
    const checkpoint: SignedCheckpoint = {
      origin,
      size,
      rootHash: root.toString('hex'),
      signedAt,
      note: this.keys.sign(text, origin, signedAt),
    };
    await this.watch(checkpoint, async (first) => {
      const ranges = consistencyRanges(first, size);
      const missing = nodesFor(ranges).filter((k) => !nodes.has(nodeId(k)));
      // from the last checkpoint witnessed here (the usual case) every node is in hand: no copy
      // of the ~1,000 entries
      const all =
        missing.length === 0
          ? nodes
          : new Map([...nodes, ...(await this.nodesOf(origin, missing, leaves))]);
      return ranges.map(([lo, hi]) => rangeHash(lo, hi, all));
    });
    // witnessed first: a checkpoint in the store is always in the witness file too
    await this.witness.append(checkpoint);
    await this.store.saveCheckpoint(checkpoint);
    this.heads.set(origin, { checkpoint, compact: perfectNodesOf(nodes, size) });
    // signed here: trusted without a check when it is the row read next
    const known = this.trusted.get(origin);
    if (!known?.checkpoint || known.checkpoint.size < size)
      this.trusted.set(origin, { id: checkpointId(checkpoint), checkpoint });
    // the last slice's proofs in one pass from the nodes in hand; older leaves from the store
    const inside: number[] = [];
    const insideIndexes: number[] = [];
    const outside: number[] = [];
    for (const seq of seqs) {
      if (seq > at && seq <= size) {
        inside.push(seq);
        insideIndexes.push(seq - 1);
      } else outside.push(seq);
    }
    const proofs = inclusionProofsOf(insideIndexes, size, nodes, (hash) => hash.toString('base64'));
    const receipts = new Map<number, Receipt>();
    inside.forEach((seq, i) => {
      receipts.set(seq, {
        seq,
        leafIndex: seq - 1,
        leafHash: leafHashes[seq - 1 - at].toString('hex'),
        treeSize: size,
        inclusionProof: proofs[i],
      });
    });
    for (const [seq, r] of await this.receiptsFromStore(origin, outside, size, leaves)) {
      receipts.set(seq, r);
    }
    return { checkpoint, receipts };
  }

  /** The leaf hashes of the log's entries at+1..end (of the `size` being sealed). */
  private async leafHashes(
    origin: string,
    leaves: LeafSource,
    at: number,
    end: number,
    size: number,
  ): Promise<Buffer[]> {
    if (end === at) return [];
    const recordHashes = await leaves(at + 1, end);
    if (recordHashes.length !== end - at) {
      throw new Error(`log ${origin} has ${at + recordHashes.length} entries, not ${size}`);
    }
    const hashes: Buffer[] = [];
    for (const recordHash of recordHashes) hashes.push(leafOfRecordHash(recordHash));
    return hashes;
  }

  private async receiptsFromStore(
    origin: string,
    seqs: number[],
    treeSize: number,
    leaves?: LeafSource,
  ): Promise<Map<number, Receipt>> {
    const receipts = new Map<number, Receipt>();
    if (seqs.length === 0) return receipts;
    const leafKeys = seqs.map((seq) => ({ level: 0, index: seq - 1 }));
    const rangesOf = new Map(seqs.map((seq) => [seq, inclusionRanges(seq - 1, treeSize)]));
    const nodes = await this.nodesOf(
      origin,
      [...leafKeys, ...nodesFor([...rangesOf.values()].flat())],
      leaves,
    );
    for (const seq of seqs) {
      receipts.set(seq, {
        seq,
        leafIndex: seq - 1,
        leafHash: nodes.get(nodeId({ level: 0, index: seq - 1 }))!.toString('hex'),
        treeSize,
        inclusionProof: rangesOf
          .get(seq)!
          .map(([lo, hi]) => rangeHash(lo, hi, nodes).toString('base64')),
      });
    }
    return receipts;
  }

  /**
   * How the owner of some logs reads their entries (undefined: not one of its logs): what lost
   * nodes of a log no seal of this process has touched yet are rebuilt from (at start-up).
   */
  addLeafSources(resolve: (origin: string) => LeafSource | undefined): void {
    this.resolvers.push(resolve);
  }

  /**
   * Whether the stored nodes of the tree of the log's last checkpoint are all there (its
   * perfect nodes: what an append starts from) and give the root it signs, rebuilding them when
   * they do not and can be. False: the log is in `lostNodes` or `mismatchedNodes`.
   */
  async checkNodes(origin: string): Promise<boolean> {
    const latest = await this.latest(origin);
    if (!latest) return true;
    try {
      await this.seals.run(origin, () =>
        this.headAt(origin, latest, this.sources.get(origin) ?? this.resolve(origin)),
      );
      return true;
    } catch (error) {
      if (error instanceof CommonError || error instanceof NodesMismatchError) return false;
      throw error;
    }
  }

  /** Logs whose stored Merkle nodes are missing and could not be rebuilt: for /health. */
  lostNodes(): LostNodes[] {
    return [...this.lost.values()].map(({ origin, since, reason }) => ({ origin, since, reason }));
  }

  /**
   * The stored nodes of these keys, every one of them: the nodes of a signed tree are written
   * before its checkpoint, so one missing was deleted outside the server (findings L3). They are
   * derived data: rebuilt from the log's entries (`rebuild`) when those give the root the last
   * checkpoint signs; otherwise the log is listed by `lostNodes` (/health) and this throws
   * `stored_record_invalid`, naming the log.
   */
  private async nodesOf(
    origin: string,
    keys: NodeKey[],
    leaves = this.sources.get(origin) ?? this.resolve(origin),
  ): Promise<Map<string, Buffer>> {
    let found = await this.store.findNodes(origin, keys);
    if (holdsAll(found, keys)) return found;
    if (!this.lost.has(origin)) {
      this.lost.set(origin, {
        origin,
        since: this.clock.now(),
        reason: leaves
          ? 'being rebuilt from its entries'
          : 'the next append to the log rebuilds them from its entries',
      });
      this.logger.error(
        { origin, reason: 'nodes_missing' },
        'ALARM: stored Merkle nodes of a log are missing (deleted outside the server)',
      );
    }
    if (leaves && (await this.rebuild(origin, leaves))) {
      found = await this.store.findNodes(origin, keys);
      if (holdsAll(found, keys)) return found;
    }
    throw new CommonError(
      'stored_record_invalid',
      `The stored Merkle tree nodes of log ${origin} are missing (tlog_nodes); see /health`,
    );
  }

  private resolve(origin: string): LeafSource | undefined {
    for (const resolve of this.resolvers) {
      const leaves = resolve(origin);
      if (leaves) return leaves;
    }
    return undefined;
  }

  /** One rebuild of a log's nodes at a time; true when the nodes are back. */
  private rebuild(origin: string, leaves: LeafSource): Promise<boolean> {
    let running = this.rebuilds.get(origin);
    if (!running) {
      running = this.rebuildNow(origin, leaves)
        .catch((error: unknown) => {
          this.logger.warn({ err: error, origin }, 'Lost Merkle nodes could not be rebuilt');
          const lost = this.lost.get(origin);
          if (lost) lost.reason = `not rebuilt: ${(error as Error).message}`;
          this.rebuildErrors.set(origin, (error as Error).message);
          return false;
        })
        .finally(() => this.rebuilds.delete(origin));
      this.rebuilds.set(origin, running);
    }
    return running;
  }

  /**
   * Rebuilds the nodes of the tree of the log's last checkpoint from its entries, a repair and
   * never a rewrite: the root of the entries is computed first (slice by slice, the perfect
   * nodes so far carried on) and must be the root the checkpoint's note signs under a key of
   * the log's key history; only then are the nodes written (a node still stored is replaced:
   * the signed root proves it), each slice's leaves checked against the first pass. Entries that
   * give another root are not a tree of this log: nothing is written, the log stays in
   * `lostNodes` or `mismatchedNodes` with the reason.
   */
  private async rebuildNow(origin: string, leaves: LeafSource): Promise<boolean> {
    const latest = await this.latest(origin);
    if (!latest) return false;
    const known = this.lost.get(origin);
    // the same entries against the same checkpoint, or one extending it: no second read of the
    // whole log (until the finding expires)
    if (this.entriesRefuted(origin, latest.size)) return false;
    this.rebuildErrors.delete(origin);
    const size = latest.size;
    const digests: Buffer[] = [];
    let compact = new Map<string, Buffer>();
    for (let at = 0; at < size; at += SEAL_SLICE) {
      const end = Math.min(size, at + SEAL_SLICE);
      const hashes = await this.leafHashes(origin, leaves, at, end, size);
      digests.push(digestOf(hashes));
      compact = perfectNodesOf(appendLeaves(compact, at, hashes).nodes, end);
      await yieldToLoop();
    }
    const root = rangeHash(0, size, compact);
    if (!this.signsRoot(latest, root)) {
      this.entriesMismatchAt.set(origin, { size, at: this.clock.now().getTime() });
      if (known) {
        known.reason = `the log's entries do not give the root its last checkpoint (size ${size}) signs: not rebuilt (verify the log)`;
      }
      this.logger.error(
        { origin, size, reason: known ? 'nodes_missing' : 'nodes_mismatch' },
        "ALARM: a log's Merkle nodes are missing or rewritten and its entries do not give the root of its last signed checkpoint: not rebuilt",
      );
      return false;
    }
    compact = new Map();
    let written = 0;
    const replaced: { node: string; stored: string; rebuilt: string }[] = [];
    let replacedCount = 0;
    for (let at = 0, slice = 0; at < size; at += SEAL_SLICE, slice++) {
      const end = Math.min(size, at + SEAL_SLICE);
      const hashes = await this.leafHashes(origin, leaves, at, end, size);
      if (!digestOf(hashes).equals(digests[slice])) {
        throw new Error(`the entries of log ${origin} changed while its nodes were rebuilt`);
      }
      const appended = appendLeaves(compact, at, hashes);
      // proven by the signed root: a node rewritten outside the server is replaced, and what
      // it held is logged first (the evidence the repair overwrites; hashes are no secret)
      const stored = await this.store.findNodes(origin, appended.created);
      for (const node of appended.created) {
        const was = stored.get(nodeId(node));
        if (!was || was.equals(node.hash)) continue;
        replacedCount++;
        if (replaced.length < REPLACED_LOGGED)
          replaced.push({
            node: nodeId(node),
            stored: was.toString('hex'),
            rebuilt: node.hash.toString('hex'),
          });
      }
      await this.store.replaceNodes(origin, appended.created);
      written += appended.created.length;
      compact = perfectNodesOf(appended.nodes, end);
      await yieldToLoop();
    }
    if (replacedCount > 0) {
      this.logger.error(
        { origin, size, replacedCount, replaced, reason: 'nodes_mismatch' },
        'ALARM: replaced stored Merkle nodes of a log that did not match its entries (rewritten outside the server): the stored and rebuilt hashes are listed',
      );
    }
    this.lost.delete(origin);
    this.entriesMismatchAt.delete(origin);
    this.logger.warn(
      { origin, size, nodes: written },
      'Rebuilt the lost Merkle nodes of a log from its entries (their root is the one its last checkpoint signs)',
    );
    return true;
  }

  /** Whether the checkpoint's note signs its own origin, size and root under a key of the log. */
  private verifies(checkpoint: SignedCheckpoint): boolean {
    return (
      /^[0-9a-f]{64}$/.test(checkpoint.rootHash) &&
      this.signsRoot(checkpoint, Buffer.from(checkpoint.rootHash, 'hex'))
    );
  }

  /** The largest stored checkpoint of the log smaller than `belowSize` that verifies. */
  private async largestVerified(
    origin: string,
    belowSize: number,
  ): Promise<SignedCheckpoint | undefined> {
    for (;;) {
      const row = await this.store.latestCheckpoint(origin, belowSize);
      if (!row || this.verifies(row)) return row;
      belowSize = row.size;
    }
  }

  /** Whether the checkpoint's note signs this root (of its size and origin) under a key of the log. */
  private signsRoot(checkpoint: SignedCheckpoint, root: Buffer): boolean {
    const parsed = parseNote(checkpoint.note);
    const body = parsed && parseCheckpointText(parsed.text);
    if (!parsed || !body) return false;
    if (body.origin !== checkpoint.origin || body.size !== checkpoint.size) return false;
    if (!body.rootHash.equals(root)) return false;
    return this.keys.all().some((key) => noteSignedBy(parsed, checkpoint.origin, key.raw));
  }

  /**
   * Compares a new checkpoint with the last one this process witnessed for the log (read
   * from the witness file the first time): one that is not an append-only extension of it, or
   * a smaller tree that is not its prefix, is an alarm in the logs and in
   * `mdai_tlog_inconsistency_total`.
   */
  private async watch(
    checkpoint: SignedCheckpoint,
    proofFrom: (first: number) => Promise<Buffer[]>,
  ): Promise<void> {
    const origin = checkpoint.origin;
    if (!this.witnessed.has(origin)) {
      let last: WitnessLine | undefined;
      for await (const line of this.witness.linesOf(origin))
        if (!last || line.size >= last.size) last = line;
      if (last) this.witnessed.set(origin, { size: last.size, rootHash: last.rootHash });
    }
    const seen = this.witnessed.get(origin);
    let consistent = true;
    if (seen && seen.size > 0) {
      consistent =
        checkpoint.size >= seen.size
          ? verifyConsistency(
              seen.size,
              checkpoint.size,
              Buffer.from(seen.rootHash, 'hex'),
              Buffer.from(checkpoint.rootHash, 'hex'),
              checkpoint.size > seen.size ? await proofFrom(seen.size) : [],
            )
          : await this.prefixOf(checkpoint, seen);
    }
    if (!consistent) {
      this.alarms.inc({ log: logLabel(origin) });
      this.logger.error(
        { origin, witnessedSize: seen!.size, newSize: checkpoint.size },
        'ALARM: checkpoint inconsistent with the witnessed history of this log',
      );
    }
    if (!seen || checkpoint.size >= seen.size) {
      this.witnessed.set(origin, { size: checkpoint.size, rootHash: checkpoint.rootHash });
    }
  }

  /**
   * Whether a checkpoint smaller than the witnessed tree is a prefix of it. Replicas sharing
   * the witness file each read it when they first seal a log, and another replica's line may
   * be ahead of the store this one sealed from (its checkpoint row not written yet): this
   * smaller tree is then a consistent prefix, not an alarm. The witnessed tree's nodes are in
   * the store (written before its witness line); a missing node is an alarm.
   */
  private async prefixOf(
    checkpoint: SignedCheckpoint,
    seen: { size: number; rootHash: string },
  ): Promise<boolean> {
    const ranges = consistencyRanges(checkpoint.size, seen.size);
    const nodes = await this.store.findNodes(checkpoint.origin, nodesFor(ranges));
    let proof: Buffer[];
    try {
      proof = ranges.map(([lo, hi]) => rangeHash(lo, hi, nodes));
    } catch {
      return false;
    }
    return verifyConsistency(
      checkpoint.size,
      seen.size,
      Buffer.from(checkpoint.rootHash, 'hex'),
      Buffer.from(seen.rootHash, 'hex'),
      proof,
    );
  }

  /**
   * A failed seal (the store or the witness file unavailable) leaves committed entries
   * without a checkpoint, and a verify would call them `checkpoint_missing` until the log's
   * next append seals them. They are sealed again in the background instead: after
   * SEAL_RETRY_FIRST_MS, then at doubling intervals up to a minute, until a seal covers them.
   */
  private retryLater(origin: string, size: number, leaves: LeafSource): void {
    if (this.closed) return;
    const pending = this.retries.get(origin);
    if (pending) {
      if (size > pending.size) Object.assign(pending, { size, leaves });
      return;
    }
    this.schedule(origin, { size, leaves, delayMs: SEAL_RETRY_FIRST_MS });
  }

  private schedule(origin: string, retry: SealRetry): void {
    this.retries.set(origin, retry);
    retry.timer = setTimeout(() => void this.retry(origin, retry), retry.delayMs);
    retry.timer.unref();
  }

  private async retry(origin: string, retry: SealRetry): Promise<void> {
    if (this.closed || this.retries.get(origin) !== retry) return;
    try {
      const { size } = retry;
      await this.seals.run(origin, () => this.sealNow(origin, size, retry.leaves, []));
      this.logger.log(
        { origin, size },
        'Sealed entries a failed seal had left without a checkpoint',
      );
      const tail = this.tails.get(origin);
      if (tail && tail.size <= size) this.tails.delete(origin);
      if (this.retries.get(origin) !== retry) return;
      // a later seal failed meanwhile, past this one: its entries are next
      if (retry.size > size) this.schedule(origin, { ...retry, delayMs: SEAL_RETRY_FIRST_MS });
      else this.retries.delete(origin);
    } catch (error) {
      if (this.closed || this.retries.get(origin) !== retry) return;
      this.logger.warn({ err: error, origin }, 'A log could not be sealed again; trying later');
      this.schedule(origin, { ...retry, delayMs: Math.min(retry.delayMs * 2, SEAL_RETRY_MAX_MS) });
    }
  }

  /** A checkpoint of `size` is stored: a pending retry of no larger size is done. */
  private covered(origin: string, size: number): void {
    const tail = this.tails.get(origin);
    if (tail && tail.size <= size) this.tails.delete(origin);
    const pending = this.retries.get(origin);
    if (!pending || pending.size > size) return;
    clearTimeout(pending.timer);
    this.retries.delete(origin);
  }
}

/**
 * The metric label of a log: `ledger`, `vault-audit` or `payroll-closes` (each pre-set to 0,
 * so an `increase()` alert sees a log's first event).
 */
function logLabel(origin: string): string {
  return origin.split('/').slice(1, 2).join('') || origin;
}

/** What identifies a stored checkpoint row for the trust cache: every column of it. */
function checkpointId(c: SignedCheckpoint): string {
  return `${c.size}\n${c.rootHash}\n${c.signedAt.getTime()}\n${c.note}`;
}

function holdsAll(found: ReadonlyMap<string, Buffer>, keys: NodeKey[]): boolean {
  if (found.size >= keys.length) return true;
  return keys.every((key) => found.has(nodeId(key)));
}

function digestOf(hashes: Buffer[]): Buffer {
  const digest = createHash('sha256');
  for (const hash of hashes) digest.update(hash);
  return digest.digest();
}

/** The perfect nodes of [0, size) (`perfectNodes`) taken from `nodes`, which holds them. */
function perfectNodesOf(nodes: ReadonlyMap<string, Buffer>, size: number): Map<string, Buffer> {
  return new Map(perfectNodes(0, size).map((k) => [nodeId(k), nodes.get(nodeId(k))!]));
}
