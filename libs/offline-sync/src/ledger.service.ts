import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig, jcs } from '@app/common';
import { SigningKeyService } from '@app/device-trust';
import { AttendanceLog, PendingLogEntry } from './domain/attendance-log';
import { ChainBreak, ChainVerifier } from './domain/chain-verifier';
import { checkpointSigningInput, LedgerCheckpoint } from './domain/ledger-checkpoint';
import {
  AppendResult,
  AttendanceLogRepository,
} from './infrastructure/persistence/attendance-log.repository';
import { LedgerCheckpointRepository } from './infrastructure/persistence/ledger-checkpoint.repository';

const PAGE = 1000;

/** Called with the links one append call added (in append order), after they are committed. */
export type AppendedListener = (appended: AttendanceLog[]) => Promise<void>;

export type LedgerBreak = ChainBreak | 'checkpoint_mismatch' | 'checkpoint_signature_invalid';

export interface LedgerVerification {
  ok: boolean;
  length: number;
  headHash: string;
  brokenAtSeq?: number;
  reason?: LedgerBreak;
  checkpointsChecked: number;
}

/**
 * The hash-chained ledger: appends (serialized per chain by the store), export, verification
 * and signed checkpoints of chain heads every `LEDGER_CHECKPOINT_EVERY` links.
 */
@Injectable()
export class LedgerService {
  private readonly logger = new Logger(LedgerService.name);
  private readonly checkpointEvery: number;
  private readonly appendedListeners: AppendedListener[] = [];

  constructor(
    private readonly logs: AttendanceLogRepository,
    private readonly checkpoints: LedgerCheckpointRepository,
    private readonly signingKey: SigningKeyService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.checkpointEvery = config.get('offlineSync', { infer: true }).checkpointEvery;
  }

  async append(entries: PendingLogEntry[]): Promise<AppendResult[]> {
    const results = await this.logs.appendToChains(entries);
    await this.checkpointCrossings(results);
    await this.notifyAppended(results);
    return results;
  }

  /**
   * Registers a read model fed with every committed append (the one hook on "entries
   * appended"). A listener that fails is logged and does not fail the append: the entries are
   * in the ledger, and a read model catches up from `readChain`.
   */
  onAppended(listener: AppendedListener): void {
    this.appendedListeners.push(listener);
  }

  /** Up to `limit` links of a site's chain after `afterSeq`, in seq order (read models catch up with it). */
  readChain(siteId: string, afterSeq: number, limit: number): Promise<AttendanceLog[]> {
    return this.logs.readChain(siteId, afterSeq, limit);
  }

  findCommitted(packetIds: string[]): Promise<Map<string, AttendanceLog>> {
    return this.logs.findByPacketIds(packetIds);
  }

  /** The worker's accepted link just before (at, packetId) in signed time, on any site. */
  previousOfWorker(
    workerId: string,
    before: { at: Date; packetId: string },
  ): Promise<AttendanceLog | undefined> {
    return this.logs.findPreviousOfWorker(workerId, before);
  }

  /** Distinct workers with accepted packets from these devices, timestamped within [from, to]. */
  workersOfDevices(deviceIds: string[], from: Date, to: Date): Promise<string[]> {
    return this.logs.listWorkersOfDevices(deviceIds, from, to);
  }

  /** The chain as NDJSON lines, in seq order, exactly the values that were hashed. */
  async *exportChain(siteId: string): AsyncGenerator<string> {
    for await (const log of this.walk(siteId)) {
      yield `${jcs({
        siteId: log.siteId,
        seq: log.seq,
        prevHash: log.prevHash,
        recordHash: log.recordHash,
        data: log.data,
        meta: log.meta,
      })}\n`;
    }
  }

  async verify(siteId: string): Promise<LedgerVerification> {
    const checkpoints = await this.checkpoints.listCheckpoints(siteId);
    const expected = new Map(checkpoints.map((c) => [c.seq, c]));
    const verifier = new ChainVerifier(siteId);
    let checkpointBreak: { seq: number; reason: LedgerBreak } | undefined;
    for (const checkpoint of checkpoints) {
      if (!this.checkpointSignatureValid(checkpoint)) {
        checkpointBreak = { seq: checkpoint.seq, reason: 'checkpoint_signature_invalid' };
        break;
      }
    }
    for await (const log of this.walk(siteId)) {
      if (!verifier.accept(log)) break;
      const checkpoint = expected.get(log.seq);
      if (checkpoint && checkpoint.headHash !== log.recordHash && !checkpointBreak) {
        checkpointBreak = { seq: log.seq, reason: 'checkpoint_mismatch' };
      }
    }
    const chainBreak = verifier.firstBreak;
    // a checkpoint beyond the end of the chain means links were removed
    const beyond = checkpoints.find((c) => c.seq > verifier.length);
    if (!chainBreak && !checkpointBreak && beyond) {
      checkpointBreak = { seq: verifier.length + 1, reason: 'checkpoint_mismatch' };
    }
    const first = [chainBreak, checkpointBreak]
      .filter((b): b is { seq: number; reason: LedgerBreak } => b !== undefined)
      .sort((a, b) => a.seq - b.seq)[0];
    return {
      ok: first === undefined,
      length: verifier.length,
      headHash: verifier.headHash,
      brokenAtSeq: first?.seq,
      reason: first?.reason,
      checkpointsChecked: checkpoints.length,
    };
  }

  listCheckpoints(siteId: string): Promise<LedgerCheckpoint[]> {
    return this.checkpoints.listCheckpoints(siteId);
  }

  private async *walk(siteId: string): AsyncGenerator<AttendanceLog> {
    let after = 0;
    for (;;) {
      const page = await this.logs.readChain(siteId, after, PAGE);
      for (const log of page) yield log;
      if (page.length < PAGE) return;
      after = page[page.length - 1].seq;
    }
  }

  private async notifyAppended(results: AppendResult[]): Promise<void> {
    const appended = results.filter((r) => r.status === 'appended').map((r) => r.log);
    if (appended.length === 0) return;
    for (const listener of this.appendedListeners) {
      try {
        await listener(appended);
      } catch (error) {
        this.logger.warn({ err: error as Error }, 'A ledger read model failed to take an append');
      }
    }
  }

  /** Signs the head of each chain whose length crossed a multiple of `checkpointEvery`. */
  private async checkpointCrossings(results: AppendResult[]): Promise<void> {
    const heads = new Map<string, { first: number; last: AttendanceLog }>();
    for (const r of results) {
      if (r.status !== 'appended') continue;
      const seen = heads.get(r.log.siteId);
      if (!seen) heads.set(r.log.siteId, { first: r.log.seq, last: r.log });
      else if (r.log.seq > seen.last.seq) seen.last = r.log;
    }
    for (const { first, last } of heads.values()) {
      const n = this.checkpointEvery;
      if (Math.floor(last.seq / n) === Math.floor((first - 1) / n)) continue;
      await this.checkpoints.saveCheckpoint(this.sign(last));
      this.logger.log({ siteId: last.siteId, seq: last.seq }, 'Ledger checkpoint signed');
    }
  }

  private sign(head: AttendanceLog): LedgerCheckpoint {
    const unsigned = {
      siteId: head.siteId,
      seq: head.seq,
      headHash: head.recordHash,
      signedAt: new Date().toISOString(),
      kid: this.signingKey.kid,
    };
    const signature = this.signingKey.sign(checkpointSigningInput(unsigned)).toString('base64url');
    return { ...unsigned, alg: 'ES256', signature };
  }

  private checkpointSignatureValid(c: LedgerCheckpoint): boolean {
    return (
      c.kid === this.signingKey.kid &&
      this.signingKey.verify(checkpointSigningInput(c), Buffer.from(c.signature, 'base64url'))
    );
  }
}
