import { Injectable } from '@nestjs/common';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseCheckpointText, SignedCheckpoint } from './domain/checkpoint';
import { ChainBreakReason, ChainLink, ChainVerifier } from './domain/hash-chain';
import { noteSignedBy, parseNote } from './domain/signed-note';
import { TreeBuilder } from './domain/tree-verifier';
import { TlogRepository } from './infrastructure/persistence/tlog.repository';
import { LogKeyService } from './log-key.service';
import { WitnessLog } from './witness-log';

export type CheckpointBreakReason =
  'checkpoint_signature_invalid' | 'checkpoint_mismatch' | 'checkpoint_missing' | 'tail_cut';

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

const CHECKPOINT_PAGE = 1000;
/** The longest run between two turns of the event loop, in ms (a page rarely takes this long). */
const SLICE_MS = 10;

/**
 * Verifies one log end to end, reading it once, in order: the hash chain (the owner's
 * recordHash formula), the Merkle tree, every stored checkpoint (signature by a trusted key
 * at its signing time, origin, size, root) and the witness file. It fails when entries were
 * appended without a checkpoint, when a witnessed checkpoint is gone from the store or
 * differs, and when a checkpoint (stored or witnessed) is larger than the log: the tail was
 * cut. It yields to the event loop as it goes, so the server keeps answering.
 */
@Injectable()
export class LogVerifierService {
  constructor(
    private readonly store: TlogRepository,
    private readonly keys: LogKeyService,
    private readonly witness: WitnessLog,
  ) {}

  /**
   * `pages` is the log in seq order, a page at a time (e.g. 1,000 entries): each page is
   * checked in one synchronous run, and the event loop gets a turn between pages.
   */
  async verify<T extends ChainLink>(
    origin: string,
    pages: AsyncIterable<readonly T[]>,
    chain: ChainVerifier<T>,
  ): Promise<LogVerification> {
    const witnessed = new Map<number, string>();
    for await (const line of this.witness.linesOf(origin)) witnessed.set(line.size, line.rootHash);
    const witnessedCount = witnessed.size;
    const tree = new TreeBuilder();
    const stored = this.storedCheckpoints(origin);
    let next = await stored.next();
    let checked = 0;
    let lastCovered = 0;
    let problem: { seq: number; reason: CheckpointBreakReason } | undefined;
    const flag = (seq: number, reason: CheckpointBreakReason): void => {
      if (!problem || seq < problem.seq) problem = { seq, reason };
    };
    const checkAt = (checkpoint: SignedCheckpoint): void => {
      checked++;
      lastCovered = checkpoint.size;
      const root = tree.root().toString('hex');
      const reason = this.checkpointFault(checkpoint, root);
      if (reason) flag(checkpoint.size, reason);
      const seen = witnessed.get(checkpoint.size);
      if (seen !== undefined && seen !== checkpoint.rootHash)
        flag(checkpoint.size, 'checkpoint_mismatch');
      witnessed.delete(checkpoint.size);
    };
    let slice = performance.now();
    walk: for await (const page of pages) {
      for (let i = 0; i < page.length; i++) {
        const link = page[i];
        if (!chain.accept(link)) break walk;
        tree.pushRecordHash(link.recordHash);
        while (!next.done && next.value.size <= tree.size) {
          if (next.value.size === tree.size) checkAt(next.value);
          next = await stored.next();
        }
        // a slow page (a loaded machine) still lets the loop turn every SLICE_MS
        if (i % 64 === 63 && performance.now() - slice > SLICE_MS) {
          await yieldToLoop();
          slice = performance.now();
        }
      }
      await yieldToLoop();
      slice = performance.now();
    }
    const length = chain.length;
    if (!next.done) flag(length + 1, 'tail_cut');
    await stored.return(undefined);
    for (const size of witnessed.keys()) {
      flag(size > length ? length + 1 : size, size > length ? 'tail_cut' : 'checkpoint_missing');
    }
    if (!chain.firstBreak && lastCovered < length) flag(lastCovered + 1, 'checkpoint_missing');
    const first = [chain.firstBreak, problem]
      .filter((b): b is { seq: number; reason: LogBreakReason } => b !== undefined)
      .sort((a, b) => a.seq - b.seq)[0];
    return {
      ok: first === undefined,
      length,
      headHash: chain.headHash,
      rootHash: tree.root().toString('hex'),
      brokenAtSeq: first?.seq,
      reason: first?.reason,
      checkpointsChecked: checked,
      witnessedCheckpoints: witnessedCount,
    };
  }

  /** Why a checkpoint does not hold for a tree whose recomputed root is `root` (undefined: it holds). */
  checkpointFault(c: SignedCheckpoint, root: string): CheckpointBreakReason | undefined {
    const parsed = parseNote(c.note);
    if (!parsed) return 'checkpoint_signature_invalid';
    const signed = this.keys
      .trustedAt(c.signedAt)
      .some((key) => noteSignedBy(parsed, c.origin, key.raw));
    if (!signed) return 'checkpoint_signature_invalid';
    const body = parseCheckpointText(parsed.text);
    if (
      !body ||
      body.origin !== c.origin ||
      body.size !== c.size ||
      body.rootHash.toString('hex') !== c.rootHash ||
      c.rootHash !== root
    ) {
      return 'checkpoint_mismatch';
    }
    return undefined;
  }

  private async *storedCheckpoints(origin: string): AsyncGenerator<SignedCheckpoint> {
    let after = 0;
    for (;;) {
      const page = await this.store.listCheckpoints(origin, after, CHECKPOINT_PAGE);
      for (const c of page) yield c;
      if (page.length < CHECKPOINT_PAGE) return;
      after = page[page.length - 1].size;
    }
  }
}
