import { Inject, Injectable } from '@nestjs/common';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { Clock } from '@app/common';
import { parseCheckpointText, SignedCheckpoint, signingTimeOf } from './domain/checkpoint';
import { ChainBreakReason, ChainLink, ChainVerifier } from './domain/hash-chain';
import { noteSignedBy, parseNote } from './domain/signed-note';
import { TreeBuilder } from './domain/tree-verifier';
import { TlogRepository } from './infrastructure/persistence/tlog.repository';
import { LOG_CLOCK } from './log-clock';
import { LogKeyService } from './log-key.service';
import { TransparencyLogService } from './transparency-log.service';
import { WitnessLine, WitnessLog } from './witness-log';

export type CheckpointBreakReason =
  | 'checkpoint_signature_invalid'
  | 'key_outside_window'
  | 'signed_at_mismatch'
  | 'signed_at_out_of_order'
  | 'checkpoint_mismatch'
  | 'checkpoint_missing'
  | 'tail_cut';

export type LogBreakReason = ChainBreakReason | CheckpointBreakReason;

export interface LogVerification {
  ok: boolean;
  length: number;
  headHash: string;
  /** hex root of the Merkle tree over the verified entries */
  rootHash: string;
  brokenAtSeq?: number;
  reason?: LogBreakReason;
  checkpointsChecked: number;
  /** Checkpoints found in the witness file (outside the store) and compared. */
  witnessedCheckpoints: number;
}

/** A log's entries after `afterSeq`, in seq order, a page at a time. */
export type LogPages<T> = (afterSeq: number) => AsyncIterable<readonly T[]>;

const CHECKPOINT_PAGE = 1000;
/** The longest run between two turns of the event loop, in ms (a page rarely takes this long). */
const SLICE_MS = 10;
/**
 * How long a seal in flight may take to store its checkpoint, in ms. A seal commits the
 * entries, writes the tree's nodes, appends the witness line, then stores the checkpoint row:
 * a verify running meanwhile waits this long (at most) for the row before it reports entries
 * without a checkpoint, or a witness line without its row. Only a log that fails waits it out.
 */
export const SEAL_SETTLE_MS = 5000;
const SETTLE_POLL_MS = 20;
/**
 * How far a checkpoint's signing time may lie before that of a smaller checkpoint of its log,
 * in ms: replicas' clocks differ a little, and of two seals running at once on two replicas the
 * larger tree may be signed first. Beyond it the time went back while the tree grew: a
 * checkpoint signed with a retired key, dated inside its window, after the log had moved on.
 */
export const SIGNED_AT_SLACK_MS = 5 * 60_000;
/** Witnessed sizes asked for one by one in a settle round (rows stored out of order). */
const PENDING_LOOKUPS = 64;

/**
 * Verifies one log end to end, reading it once, in order: the hash chain (the owner's
 * recordHash formula), the Merkle tree, every stored checkpoint (signature by a trusted key
 * at its signing time, origin, size, root, the stored signedAt against the time signed into the
 * note, and that time against the smaller trees') and the witness file. It fails when entries were
 * appended without a checkpoint, when a witnessed checkpoint is gone from the store or
 * differs, and when a checkpoint (stored or witnessed) is larger than the log: the tail was
 * cut. It yields to the event loop as it goes, so the server keeps answering.
 *
 * The log may grow while it is read (any replica may be appending and sealing). Entries,
 * witness lines and checkpoint rows are written in that order, so the walk's end is settled
 * before anything is reported: a stored checkpoint beyond the walked entries is followed by
 * reading on to it, and entries or a recent witness line not yet covered by a stored
 * checkpoint wait for the seal in flight (SEAL_SETTLE_MS at most). The answer is the log up to
 * the last checkpoint that covers it.
 */
@Injectable()
export class LogVerifierService {
  constructor(
    private readonly store: TlogRepository,
    private readonly keys: LogKeyService,
    private readonly witness: WitnessLog,
    private readonly tlog: TransparencyLogService,
    @Inject(LOG_CLOCK) private readonly clock: Clock,
  ) {}

  async verify<T extends ChainLink>(
    origin: string,
    pages: LogPages<T>,
    chain: ChainVerifier<T>,
  ): Promise<LogVerification> {
    const walk = await this.begin(origin, chain, true);
    await walk.walk(pages(0));
    await walk.settle(pages, () => this.tlog.idle(origin));
    return walk.result();
  }

  /**
   * The same verification as `verify`, walked a bounded number of entries at a time (a watch's
   * runs: `LogPass.step`), from the first entry to the last stored checkpoint. Without the
   * witness file: reading it whole at every pass (every log's lines) would cost a watch of a
   * small log the file's size every run; `verify` compares it. `chain` gives a new verifier of
   * the log's chain for each walk from the first entry (a pass that starts over walks anew).
   */
  async startPass<T extends ChainLink>(
    origin: string,
    chain: () => ChainVerifier<T>,
  ): Promise<LogPass<T>> {
    const begin = () => this.begin(origin, chain(), false);
    return new LogPass(origin, await begin(), begin, this.store, this.tlog);
  }

  private async begin<T extends ChainLink>(
    origin: string,
    chain: ChainVerifier<T>,
    withWitness: boolean,
  ): Promise<LogWalk<T>> {
    const witnessed = new Map<number, WitnessLine>();
    // two signed roots of one size: the log was cut and grown again (only the last line is
    // kept to compare with the rows, so the first would otherwise go unchecked)
    const forked: number[] = [];
    if (withWitness) {
      for await (const line of this.witness.linesOf(origin)) {
        const seen = witnessed.get(line.size);
        if (seen && seen.rootHash !== line.rootHash) forked.push(line.size);
        witnessed.set(line.size, line);
      }
    }
    const walk = new LogWalk(origin, chain, witnessed, this.store, this, this.clock.now());
    for (const size of forked) walk.flag(size, 'checkpoint_mismatch');
    await walk.readRows();
    return walk;
  }

  /** Why a checkpoint does not hold for a tree whose recomputed root is `root` (undefined: it holds). */
  checkpointFault(c: SignedCheckpoint, root: string): CheckpointBreakReason | undefined {
    return this.inspect(c, root).fault;
  }

  /**
   * `checkpointFault`, and when the checkpoint was signed: the note's `timestamp` line when it
   * has one (the signature covers it; the stored `signedAt` must then equal it), else the stored
   * `signedAt` (checkpoints signed before the line existed).
   */
  inspect(
    c: SignedCheckpoint,
    root: string,
  ):
    | { fault: CheckpointBreakReason }
    | { fault?: undefined; at: Date; signed: boolean; kid: string } {
    const parsed = parseNote(c.note);
    if (!parsed) return { fault: 'checkpoint_signature_invalid' };
    const body = parseCheckpointText(parsed.text);
    const time = body && signingTimeOf(body, c);
    const signer = this.keys
      .trustedAt(time?.at ?? c.signedAt)
      .find((key) => noteSignedBy(parsed, c.origin, key.raw));
    if (!signer) {
      // signed by a key of the history, but at a time outside its window: a replica still
      // signing with a retired key after the rotation's grace (or a stolen retired key)
      const known = this.keys.all().some((key) => noteSignedBy(parsed, c.origin, key.raw));
      return { fault: known ? 'key_outside_window' : 'checkpoint_signature_invalid' };
    }
    if (
      !body ||
      !time ||
      body.origin !== c.origin ||
      body.size !== c.size ||
      body.rootHash.toString('hex') !== c.rootHash ||
      c.rootHash !== root
    ) {
      return { fault: 'checkpoint_mismatch' };
    }
    // the signed time and the column beside it differ: the column was rewritten
    if (time.signed && time.at.getTime() !== c.signedAt.getTime())
      return { fault: 'signed_at_mismatch' };
    return { ...time, kid: signer.kid };
  }
}

/**
 * A verification of one log walked in steps (`LogVerifierService.startPass`): each step feeds
 * up to `limit` more entries; it answers once the walk found a break (the first one, as
 * `verify` reports it) or reached the log's last stored checkpoint, else undefined (the next
 * step goes on from there). Holds the chain's head, the tree's frontier (a hash per level) and
 * a page of checkpoint rows: its memory does not grow with the log.
 */
export class LogPass<T extends ChainLink> {
  private startedOver = 0;

  constructor(
    private readonly origin: string,
    private walk: LogWalk<T>,
    private readonly begin: () => Promise<LogWalk<T>>,
    private readonly store: TlogRepository,
    private readonly tlog: TransparencyLogService,
  ) {}

  /** Entries walked so far. */
  get size(): number {
    return this.walk.size;
  }

  /** How many times the pass started over from the first entry (the log shrank under it). */
  get restarts(): number {
    return this.startedOver;
  }

  async step(pages: LogPages<T>, limit: number): Promise<LogVerification | undefined> {
    const sealed = (await this.tlog.latest(this.origin))?.size ?? 0;
    // measured against the largest stored row, whether it verifies or not (the walk checks
    // each row it reaches): past the largest that does (`latest`), the walk reads on to a
    // newer row that does not (settle), and took that for the log shrinking, starting over
    // before it reached the row at every pass, never reporting it (review L2)
    if (sealed < this.walk.size && (await this.storedSize()) < this.walk.size) {
      // the log shrank under the pass (a restore without a restart): the walked tree is no
      // longer the log's, and settled it would report the missing checkpoint of a tree the
      // log no longer has. The next step starts over from the first entry.
      this.walk = await this.begin();
      this.startedOver++;
      return undefined;
    }
    const bound = this.walk.size + limit;
    const until = Math.min(sealed, bound);
    if (this.walk.size < until) await this.walk.walk(pages(this.walk.size), until);
    if (this.walk.broken) return this.walk.result();
    // the records ran out below the last checkpoint: the tail was cut (settle names it). A
    // pass that waited for them instead would never end, and never report it.
    if (this.walk.size < until) {
      const settled = await this.walk.settle(pages, () => this.tlog.idle(this.origin), bound);
      return settled ? this.walk.result() : undefined;
    }
    if (this.walk.size < sealed) return undefined;
    // the entries up to the last checkpoint: its row and any stored since are checked (the
    // entries they reach read on, within the step's bound: past it the next step goes on), as
    // `verify` ends
    const settled = await this.walk.settle(pages, () => this.tlog.idle(this.origin), bound);
    return settled ? this.walk.result() : undefined;
  }

  /** The size of the log's largest stored checkpoint (0: none). */
  private async storedSize(): Promise<number> {
    return (await this.store.latestCheckpoint(this.origin))?.size ?? 0;
  }
}

/** One verification's state: the chain, the tree, and the stored checkpoints read so far. */
class LogWalk<T extends ChainLink> {
  private readonly tree = new TreeBuilder();
  private readonly witnessedCount: number;
  /** Roots of the walked tree at the sizes of recent witness lines still without a row. */
  private readonly rootsAt = new Map<number, string>();
  private rows: SignedCheckpoint[] = [];
  private rowIndex = 0;
  /** The size of the last checkpoint row read; the next read starts after it. */
  private rowsAfter = 0;
  private rowsFull = false;
  private checked = 0;
  private lastCovered = 0;
  /** The latest time signed into a note among the checkpoints checked so far (ms). */
  private latestSigned = -Infinity;
  /** The key (kid) that signed the checkpoint whose time is `latestSigned`. */
  private latestSignedBy?: string;
  /** The size of the largest checkpoint whose time was compared with `latestSigned`. */
  private orderedSize = 0;
  private problem?: { seq: number; reason: CheckpointBreakReason };

  constructor(
    private readonly origin: string,
    private readonly chain: ChainVerifier<T>,
    /** witness lines not yet matched by a stored checkpoint, by size */
    private readonly witnessed: Map<number, WitnessLine>,
    private readonly store: TlogRepository,
    private readonly checker: Pick<LogVerifierService, 'inspect'>,
    private readonly startedAt: Date,
  ) {
    this.witnessedCount = witnessed.size;
  }

  /** Entries walked so far. */
  get size(): number {
    return this.tree.size;
  }

  /** Whether a break was found (in the chain, or a checkpoint that does not hold). */
  get broken(): boolean {
    return this.chain.firstBreak !== undefined || this.problem !== undefined;
  }

  /** The next page of stored checkpoints after the last one read. */
  async readRows(): Promise<void> {
    this.rows = await this.store.listCheckpoints(this.origin, this.rowsAfter, CHECKPOINT_PAGE);
    this.rowIndex = 0;
    this.rowsFull = this.rows.length === CHECKPOINT_PAGE;
    if (this.rows.length > 0) this.rowsAfter = this.rows[this.rows.length - 1].size;
  }

  /** Feeds the pages' links to the chain and the tree, up to `until` entries if given. */
  async walk(pages: AsyncIterable<readonly T[]>, until = Infinity): Promise<void> {
    const { chain, tree } = this;
    let slice = performance.now();
    for await (const page of pages) {
      for (let i = 0; i < page.length; i++) {
        if (tree.size >= until || !chain.accept(page[i])) return;
        tree.pushRecordHash(page[i].recordHash);
        if (this.rowIndex < this.rows.length && this.rows[this.rowIndex].size <= tree.size)
          await this.takeRows();
        if (this.witnessed.has(tree.size)) this.keepRootForLateRow();
        // a slow page (a loaded machine) still lets the loop turn every SLICE_MS
        if (i % 64 === 63 && performance.now() - slice > SLICE_MS) {
          await yieldToLoop();
          slice = performance.now();
        }
      }
      // rows stored since the last read (the log grows while it is walked)
      if (this.rowIndex === this.rows.length && tree.size > this.rowsAfter) {
        await this.readRows();
        await this.takeRows();
      }
      await yieldToLoop();
      slice = performance.now();
    }
  }

  /**
   * Settles the walk's end against seals in flight: reads on to a stored checkpoint beyond
   * the walked entries, and waits (bounded) for the checkpoint of uncovered entries and for the
   * rows of recent witness lines. Reads no entry past `until`: false when it stopped there (a
   * checkpoint stored beyond it; the walk is not settled), else true.
   */
  async settle(
    pages: LogPages<T>,
    sealsInFlight: () => Promise<void>,
    until = Infinity,
  ): Promise<boolean> {
    const deadline = performance.now() + SEAL_SETTLE_MS;
    // whether the rows were read since the walk last moved
    let fresh = false;
    for (;;) {
      await this.takeRows();
      if (this.chain.firstBreak) return true;
      const beyond = this.rows[this.rowIndex];
      if (beyond) {
        fresh = false;
        if (this.tree.size >= until) return false;
        await this.walk(pages(this.tree.size), Math.min(beyond.size, until));
        if (this.chain.firstBreak) return true;
        if (this.tree.size >= until && this.tree.size < beyond.size) return false;
        // entries are committed before their checkpoint: one the entries do not reach was cut
        if (this.tree.size < beyond.size) {
          this.flag(this.tree.size + 1, 'tail_cut');
          return true;
        }
        continue;
      }
      // rows stored since the last read (the log grew, then its tail was cut): with the walk
      // standing on the last row read, the entries' end would read as covered (review L1)
      if (!fresh) {
        fresh = true;
        await this.readRows();
        continue;
      }
      const pending = this.pendingWitnessSizes();
      if (this.lastCovered >= this.tree.size && pending.length === 0) return true;
      if (performance.now() >= deadline) return true;
      // a seal stuck on its I/O must not hold the verify past its deadline
      const left = Math.max(0, deadline - performance.now());
      await Promise.race([sealsInFlight(), sleep(left, undefined, { ref: false })]);
      await sleep(SETTLE_POLL_MS);
      for (const size of pending.slice(0, PENDING_LOOKUPS)) {
        const row = await this.store.checkpointAt(this.origin, size);
        if (row) this.check(row, this.rootsAt.get(size)!);
      }
      if (!this.rowsFull) await this.readRows();
    }
  }

  result(): LogVerification {
    const { chain, tree } = this;
    const length = chain.length;
    for (const size of this.witnessed.keys()) {
      this.flag(
        size > length ? length + 1 : size,
        size > length ? 'tail_cut' : 'checkpoint_missing',
      );
    }
    if (!chain.firstBreak && this.lastCovered < length)
      this.flag(this.lastCovered + 1, 'checkpoint_missing');
    const first = [chain.firstBreak, this.problem]
      .filter((b): b is { seq: number; reason: LogBreakReason } => b !== undefined)
      .sort((a, b) => a.seq - b.seq)[0];
    return {
      ok: first === undefined,
      length,
      headHash: chain.headHash,
      rootHash: tree.root().toString('hex'),
      brokenAtSeq: first?.seq,
      reason: first?.reason,
      checkpointsChecked: this.checked,
      witnessedCheckpoints: this.witnessedCount,
    };
  }

  /** Checks the rows the tree has reached; reads the next page of rows when one ends. */
  private async takeRows(): Promise<void> {
    for (;;) {
      while (this.rowIndex < this.rows.length) {
        const row = this.rows[this.rowIndex];
        if (row.size > this.tree.size) return;
        this.rowIndex++;
        const root =
          row.size === this.tree.size
            ? this.tree.root().toString('hex')
            : this.rootsAt.get(row.size);
        // a row stored after the walk passed its size is checked only where its root was kept
        if (root !== undefined) this.check(row, root);
      }
      if (!this.rowsFull) return;
      await this.readRows();
    }
  }

  private check(row: SignedCheckpoint, root: string): void {
    this.checked++;
    this.lastCovered = Math.max(this.lastCovered, row.size);
    const held = this.checker.inspect(row, root);
    if (held.fault) this.flag(row.size, held.fault);
    else this.checkOrder(row.size, held.at.getTime(), held.signed, held.kid);
    const seen = this.witnessed.get(row.size);
    if (seen !== undefined && seen.rootHash !== row.rootHash)
      this.flag(row.size, 'checkpoint_mismatch');
    this.witnessed.delete(row.size);
    this.rootsAt.delete(row.size);
  }

  /**
   * Along a log, a larger tree is never signed earlier than a smaller one (by more than
   * SIGNED_AT_SLACK_MS). Only times signed into notes set the bar: a stored `signedAt` alone
   * proves nothing, so logs of checkpoints without the `timestamp` line verify as before. A
   * checkpoint without it, larger than one with it, is held to the bar by its stored time (a
   * replica not yet upgraded signs at its real time; a forged one must be dated inside the
   * retired key's window). A row checked out of size order (stored late) is not compared.
   * A time gone back under the very key that signed the bar's time is that signer's clock
   * stepped back (an NTP correction, a replica's clock behind another's), never a forgery with
   * a retired key, which another key signed the bar of: it is not reported, so one clock step
   * cannot fail a log's verify for good.
   */
  private checkOrder(size: number, at: number, signed: boolean, kid: string): void {
    if (size < this.orderedSize) return;
    this.orderedSize = size;
    if (at < this.latestSigned - SIGNED_AT_SLACK_MS) {
      if (kid !== this.latestSignedBy) this.flag(size, 'signed_at_out_of_order');
    } else if (signed && at > this.latestSigned) {
      this.latestSigned = at;
      this.latestSignedBy = kid;
    }
  }

  /**
   * The walk reached a witnessed size with no row for it yet. A recent line may be a seal
   * whose row is still being written: its root is kept so the row can be checked when it
   * comes. An older line without its row is reported as it is.
   */
  private keepRootForLateRow(): void {
    const line = this.witnessed.get(this.tree.size)!;
    if (this.startedAt.getTime() - Date.parse(line.signedAt) < SEAL_SETTLE_MS)
      this.rootsAt.set(this.tree.size, this.tree.root().toString('hex'));
  }

  private pendingWitnessSizes(): number[] {
    return [...this.rootsAt.keys()].filter((size) => this.witnessed.has(size));
  }

  flag(seq: number, reason: CheckpointBreakReason): void {
    if (!this.problem || seq < this.problem.seq) this.problem = { seq, reason };
  }
}
