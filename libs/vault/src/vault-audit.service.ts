import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock, newId } from '@app/common';
import {
  ChainVerifier,
  GroupSeal,
  LogVerification,
  LogVerifierService,
  Receipt,
  SealRefusals,
  SignedCheckpoint,
  StoreMac,
  storeTagFault,
  TransparencyLogService,
  ForeignSealRefusedError,
  UnauthenticatedEntryError,
  UnauthenticatedReason,
} from '@app/tlog';
import {
  auditRecordHash,
  auditTagText,
  chainEntry,
  TaggedVaultAuditRecord,
  VaultAccessResult,
  VaultAction,
  VaultAuditRecord,
} from './domain/vault-audit-record';
import { VaultActor } from './domain/vault-file';
import {
  VaultAuditCriteria,
  VaultAuditRepository,
} from './infrastructure/persistence/vault-audit.repository';
import { tlogConfig, TlogSettings } from '@app/tlog';
import { VaultError } from './vault.errors';

export interface AuditAttempt {
  fileId: string;
  actor: VaultActor;
  purpose: string;
  action: VaultAction;
  result: VaultAccessResult;
  reason?: string;
  at?: Date;
}

/** `unauthenticated_entry`: a record past the last checkpoint without a valid store MAC. */
export type AuditVerification = Omit<LogVerification, 'reason'> & {
  reason?: LogVerification['reason'] | 'unauthenticated_entry';
};

/**
 * A record past the last checkpoint that the server did not write, and why (`fault`: its own
 * `reason` is the record's field).
 */
export type UnauthenticatedRecord = VaultAuditRecord & { fault: UnauthenticatedReason };

/** An audit record with the proof that it is in the signed log. */
export interface AuditReceipt extends Receipt {
  origin: string;
  recordHash: string;
  checkpoint: string;
}

const VERIFY_PAGE = 1000;
/** Records whose store MACs one read checks, when the unsealed tail is looked at. */
const SEAL_TAG_PAGE = 1000;
/**
 * While the audit is refused, the unsealed tail is checked again (up to every record past the
 * last checkpoint) at most this often; in between a request reads only the last checkpoint and
 * the failing record with the one before it, and checks the whole tail again when either
 * changed (an operator's seal, a record repaired, removed or put back).
 */
const RECHECK_MS = 10_000;

/**
 * The refusal as last checked (`refuseWhileUnauthenticated`): the failing record and the one
 * before it as stored then (a prev-link fault is the pair's), the last checkpoint's size, and
 * when the tail was checked (the injected clock's ms).
 */
interface CheckedRefusal {
  seq: number;
  reason: UnauthenticatedReason;
  rows: string;
  sealed: number;
  checkedAt: number;
}

/**
 * The vault's access log: a hash chain on the shared transparency log (`@app/tlog`), each
 * record covered by a signed checkpoint before `record` returns. Seals are group commits
 * (`GroupSeal`): records appended while a seal is in flight are sealed together by the next,
 * one checkpoint for the group, so a burst of accesses (or of refused requests) costs a
 * checkpoint per seal time, not per record. `record` either appends and is sealed, or throws
 * 503 `audit_unavailable`: callers write the record first and act only when it succeeded.
 *
 * Every record carries the server's store MAC (`StoreMac` 'vault-audit' over its seq and
 * recordHash, with the key id). A seal reads from the store the records it does not hold from
 * this process's own appends, and signs no checkpoint over one past the last checkpoint whose
 * tag does not hold under the active key, whose fields do not hash to its recordHash, or that
 * does not link to the record before it (`UnauthenticatedEntryError`): someone who can write
 * the database cannot have the server sign their records. The vault then refuses access (503
 * `audit_unavailable`) until an operator seals them (`vault:seal-foreign`).
 */
@Injectable()
export class VaultAuditService {
  private readonly logger = new Logger(VaultAuditService.name);
  readonly origin: string;
  private readonly seals: GroupSeal;
  /** The refusal this process checked last (undefined: none, or not checked yet). */
  private checked?: CheckedRefusal;
  /** The whole tail's check in flight: the requests refused meanwhile share it. */
  private rechecking?: Promise<CheckedRefusal | undefined>;

  constructor(
    private readonly records: VaultAuditRepository,
    private readonly tlog: TransparencyLogService,
    private readonly verifier: LogVerifierService,
    private readonly clock: Clock,
    @Inject(tlogConfig.KEY) tlogSettings: TlogSettings,
    private readonly storeMac: StoreMac,
    private readonly refusals: SealRefusals,
  ) {
    this.origin = `${tlogSettings.origin}/vault-audit`;
    this.seals = new GroupSeal(tlog, this.origin, (from, to) => this.authenticatedLeaves(from, to));
  }

  async record(attempt: AuditAttempt): Promise<VaultAuditRecord> {
    return (await this.recordWithReceipt(attempt)).record;
  }

  /**
   * Appends the record, waits for the (group) seal whose signed checkpoint covers it, and
   * proves the record in that checkpoint.
   */
  async recordWithReceipt(
    attempt: AuditAttempt,
  ): Promise<{ record: VaultAuditRecord; receipt: AuditReceipt }> {
    try {
      await this.refuseWhileUnauthenticated();
      const record = await this.records.appendToChain(
        (head) =>
          chainEntry(
            {
              id: newId(),
              fileId: attempt.fileId,
              actor: attempt.actor.actor,
              role: attempt.actor.role,
              ip: attempt.actor.ip ?? '',
              purpose: attempt.purpose,
              action: attempt.action,
              result: attempt.result,
              reason: attempt.reason,
              at: attempt.at ?? this.clock.now(),
            },
            head,
          ),
        (built) => ({
          mac: this.storeMac.mac('vault-audit', auditTagText(built.seq, built.recordHash)),
          kid: this.storeMac.kid,
        }),
      );
      const sealed = await this.seals.seal(record.seq, record.recordHash);
      return {
        record,
        receipt: {
          ...sealed.receipt,
          origin: this.origin,
          recordHash: record.recordHash,
          checkpoint: sealed.checkpoint.note,
        },
      };
    } catch (error) {
      if (error instanceof UnauthenticatedEntryError) {
        // the next request checks the whole tail (what was remembered is of another refusal)
        this.checked = undefined;
        this.refuse(error.seq, error.reason);
        throw unauthenticatedError();
      }
      if (error instanceof VaultError) throw error;
      this.logger.error(
        { err: error, action: attempt.action, fileId: attempt.fileId },
        'Vault audit write failed; access refused',
      );
      throw new VaultError(
        'audit_unavailable',
        'The vault audit log cannot be written, so the vault refuses access',
      );
    }
  }

  /** For outcomes that happen after the response started (a chunk failing mid-stream). */
  async recordQuietly(attempt: AuditAttempt): Promise<void> {
    await this.record(attempt).catch(() => undefined);
  }

  list(criteria: VaultAuditCriteria): Promise<VaultAuditRecord[]> {
    return this.records.listInOrder(criteria);
  }

  latestCheckpoint(): Promise<SignedCheckpoint | undefined> {
    return this.tlog.latest(this.origin);
  }

  /**
   * Walks the whole chain, the Merkle tree, every checkpoint and the witness file: a deleted,
   * inserted or edited record, a re-hashed chain and a cut tail all fail.
   */
  async verify(): Promise<AuditVerification> {
    const result: AuditVerification = await this.verifier.verify(
      this.origin,
      (after) => this.walk(after),
      new ChainVerifier<VaultAuditRecord>((r) => auditRecordHash(r, r.seq, r.prevHash)),
    );
    // the records past the last checkpoint: the server's own (a seal still to come) or not
    if (!result.ok && result.reason !== 'checkpoint_missing') return result;
    const foreign = await this.firstUnauthenticated();
    // a break found earlier in the chain is the first to report
    if (!foreign || (result.brokenAtSeq !== undefined && result.brokenAtSeq < foreign.seq)) {
      return result;
    }
    return { ...result, ok: false, reason: 'unauthenticated_entry', brokenAtSeq: foreign.seq };
  }

  /**
   * `verify`'s walk of the chain, the Merkle tree and every stored checkpoint, taken up to
   * `limit` records a step (the audit watch's runs, `VaultAuditWatch`), to the last checkpoint:
   * the sealed records. Records past it are the seal's to check (`authenticatedLeaves`), and
   * the witness file is `verify`'s alone (`LogVerifierService.startPass`).
   */
  async startPass(): Promise<{
    step: (limit: number) => Promise<LogVerification | undefined>;
  }> {
    const pass = await this.verifier.startPass(
      this.origin,
      () => new ChainVerifier<VaultAuditRecord>((r) => auditRecordHash(r, r.seq, r.prevHash)),
    );
    return {
      step: (limit) =>
        pass.step((after) => this.walk(after, Math.min(VERIFY_PAGE, Math.max(1, limit))), limit),
    };
  }

  /** The seq of the chain's head (0: empty). */
  headSeq(): Promise<number> {
    return this.records.headSeq();
  }

  /**
   * The first record past the last checkpoint that the server did not write (undefined: none):
   * no valid store MAC under the active key, or fields that do not hash to the recordHash its
   * tag vouches for, or no link to the record before it.
   */
  async firstUnauthenticated(): Promise<
    { seq: number; reason: UnauthenticatedReason } | undefined
  > {
    for await (const { record } of this.unsealedFaults()) {
      return { seq: record.seq, reason: record.fault };
    }
    return undefined;
  }

  /**
   * The records past the last checkpoint that the server did not write, for the operator to
   * look at before sealing them (`vault:seal-foreign`); at most `limit`. The head is read
   * first and bounds the scan. `through`: the seq a seal may go up to without a record the
   * operator was not shown (the head, or the seq before the first record left off the list);
   * `complete`: every record up to the head was looked at.
   */
  async unauthenticatedRecords(limit: number): Promise<{
    sealedSize: number;
    head: number;
    records: UnauthenticatedRecord[];
    through: number;
    complete: boolean;
  }> {
    const head = await this.records.headSeq();
    const sealedSize = (await this.tlog.latest(this.origin))?.size ?? 0;
    const records: UnauthenticatedRecord[] = [];
    let through = head;
    let complete = true;
    for await (const { record } of this.unsealedFaults(sealedSize, head)) {
      if (records.length >= limit) {
        through = record.seq - 1;
        complete = false;
        break;
      }
      records.push(record);
    }
    return { sealedSize, head, records, through, complete };
  }

  /**
   * How many records past the audit log's last checkpoint carry a tag stored under each key id
   * (`null`: none stored), for `keys:retag`'s report (a retired store-MAC key is needed until
   * the next seal covers them). Read a thousand records at a time.
   */
  async unsealedTagKids(): Promise<Map<string | null, number>> {
    const sealed = (await this.tlog.latest(this.origin))?.size ?? 0;
    const head = await this.records.headSeq();
    const kids = new Map<string | null, number>();
    for (let from = sealed + 1; from <= head; from += SEAL_TAG_PAGE) {
      const to = Math.min(head, from + SEAL_TAG_PAGE - 1);
      for (const row of await this.records.readTagged(from, to)) {
        kids.set(row.kid, (kids.get(row.kid) ?? 0) + 1);
      }
    }
    return kids;
  }

  /** The stored recordHash of the record at `seq` (undefined: none). */
  async recordHashAt(seq: number): Promise<string | undefined> {
    const [hash] = await this.records.readRecordHashes(seq, seq);
    return hash;
  }

  /**
   * Seals the audit log when records were committed past its last checkpoint with no seal
   * running for them (a crash between a record's commit and its seal, here or on another
   * replica: nothing else seals them until the vault is used again). Counted by the tlog
   * (`mdai_tlog_unsealed_logs`, /health) until a checkpoint covers them. Each record is checked
   * as any record a seal reads from the store: one the server did not write refuses the seal as
   * an append would (`vault:seal-foreign`); a seal that fails otherwise is retried in the
   * background by the tlog. Returns whether the log was found unsealed. At start-up and
   * periodically (`UnsealedTailSweep`).
   */
  async sealUnsealedTail(): Promise<boolean> {
    const head = await this.records.headSeq();
    let sealed = (await this.tlog.latest(this.origin))?.size ?? 0;
    if (head > sealed) {
      // a record of this process between its commit and its (group) seal is not left behind
      await this.tlog.idle(this.origin);
      sealed = (await this.tlog.latest(this.origin))?.size ?? 0;
    }
    if (head <= sealed) {
      this.tlog.tailSealed(this.origin, sealed);
      return false;
    }
    this.tlog.tailUnsealed(this.origin, head);
    try {
      const done = await this.tlog.seal(
        this.origin,
        head,
        (from, to) => this.authenticatedLeaves(from, to),
        [],
      );
      this.logger.warn(
        { size: done.checkpoint.size },
        'Sealed vault audit records committed without a checkpoint (a crash between a commit and its seal)',
      );
    } catch (error) {
      if (error instanceof UnauthenticatedEntryError) this.refuse(error.seq, error.reason);
      else
        this.logger.error(
          { err: error },
          'Vault audit records committed without a checkpoint could not be sealed: tried again in the background',
        );
    }
    return true;
  }

  /**
   * Seals the audit log up to `head`: records committed by the server and left without a
   * checkpoint (`vault:seal-foreign` when none lacks a valid MAC). A record the server did not
   * write refuses it (`UnauthenticatedEntryError`). Returns the checkpoint's size.
   */
  async sealTail(head: number): Promise<number> {
    const sealed = await this.tlog.seal(
      this.origin,
      head,
      (from, to) => this.authenticatedLeaves(from, to),
      [],
    );
    return sealed.checkpoint.size;
  }

  /**
   * The operator's decision (`vault:seal-foreign`): signs a checkpoint over the audit log up to
   * `size`, records without a valid store MAC included, if the record at `size` still has the
   * recordHash the operator was shown (`expectedHead`) and every record past the last
   * checkpoint up to it hashes to its recordHash and links to the one before it (checked as the
   * seal reads them): the chain then is the one listed. Otherwise throws
   * `ForeignSealRefusedError` and signs nothing. Returns the checkpoint's size.
   */
  async sealForeign(size: number, expectedHead: string): Promise<number> {
    const sealedBefore = (await this.tlog.latest(this.origin))?.size ?? 0;
    const sealed = await this.tlog.seal(
      this.origin,
      size,
      (from, to) => this.listedLeaves(from, to, sealedBefore, size, expectedHead),
      [],
    );
    this.refusals.clear(this.origin);
    this.logger.warn(
      { size: sealed.checkpoint.size },
      'Vault audit records without a valid store MAC sealed by an operator (vault:seal-foreign)',
    );
    return sealed.checkpoint.size;
  }

  /**
   * The leaves an operator's seal reads: past `sealedBefore`, each record must hash to its
   * recordHash and link to the one before it, and the one at `size` must be `expectedHead`.
   */
  private async listedLeaves(
    from: number,
    to: number,
    sealedBefore: number,
    size: number,
    expectedHead: string,
  ): Promise<string[]> {
    if (to <= sealedBefore) return this.records.readRecordHashes(from, to);
    const rows = await this.records.readTagged(Math.max(1, from - 1), to);
    const hashes: string[] = [];
    let prev: VaultAuditRecord | undefined;
    for (const { record } of rows) {
      if (record.seq >= from) {
        if (record.seq > sealedBefore) {
          if (auditRecordHash(record, record.seq, record.prevHash) !== record.recordHash) {
            throw new ForeignSealRefusedError(record.seq, 'record_hash_mismatch');
          }
          if (prev?.seq === record.seq - 1 && record.prevHash !== prev.recordHash) {
            throw new ForeignSealRefusedError(record.seq, 'prev_hash_mismatch');
          }
          if (record.seq === size && record.recordHash !== expectedHead) {
            throw new ForeignSealRefusedError(record.seq, 'head_changed');
          }
        }
        hashes.push(record.recordHash);
      }
      prev = record;
    }
    if (to >= size && rows[rows.length - 1]?.record.seq !== size) {
      throw new ForeignSealRefusedError(size, 'missing');
    }
    return hashes;
  }

  /** Each record past the last checkpoint (up to `head`) that the server did not write, in order. */
  private async *unsealedFaults(
    sealedSize?: number,
    head?: number,
  ): AsyncGenerator<{ record: UnauthenticatedRecord; pair: () => string }> {
    const sealed = sealedSize ?? (await this.tlog.latest(this.origin))?.size ?? 0;
    const last = head ?? (await this.records.headSeq());
    let prev: TaggedVaultAuditRecord | undefined;
    for (let from = sealed + 1; from <= last; from += SEAL_TAG_PAGE) {
      const to = Math.min(last, from + SEAL_TAG_PAGE - 1);
      // the sealed record before the first one too: the first must link to it
      const rows = await this.records.readTagged(prev ? from : Math.max(1, from - 1), to);
      for (const row of rows) {
        const fault = row.record.seq >= from ? this.recordFault(row, prev?.record) : undefined;
        if (fault) {
          const before = prev?.record.seq === row.record.seq - 1 ? [prev] : [];
          yield {
            record: { ...row.record, fault },
            // as `storedPair` reads them, from the rows this scan read
            pair: () => JSON.stringify([...before, row]),
          };
        }
        prev = row;
      }
    }
  }

  /**
   * Why a stored record is not one the server wrote at its place (undefined: it is): its tag
   * must hold under the active key over its seq and recordHash, its fields must hash to that
   * recordHash, and it must link to `prev` (the record before it, when read with it). A record
   * edited fails as `bad_tag` or `record_hash_mismatch`, one moved or put back from another
   * history of the chain as `prev_hash_mismatch`.
   */
  private recordFault(
    row: TaggedVaultAuditRecord,
    prev: VaultAuditRecord | undefined,
  ): UnauthenticatedReason | undefined {
    const { record } = row;
    const fault = storeTagFault(
      this.storeMac,
      'vault-audit',
      row,
      auditTagText(record.seq, record.recordHash),
    );
    if (fault) return fault;
    if (auditRecordHash(record, record.seq, record.prevHash) !== record.recordHash) {
      return 'record_hash_mismatch';
    }
    // a missing record (a gap) is not this record's fault: the seal's count check refuses it
    if (prev && prev.seq === record.seq - 1 && record.prevHash !== prev.recordHash) {
      return 'prev_hash_mismatch';
    }
    return undefined;
  }

  /**
   * The leaves a seal reads from the store (records it does not hold from its own appends:
   * another process's, or left unsealed by a crash or a failed seal): each must be one the
   * server wrote (`recordFault`), unless a checkpoint stored since covers it (an operator's
   * seal, another process's).
   */
  private async authenticatedLeaves(from: number, to: number): Promise<string[]> {
    const rows = await this.records.readTagged(Math.max(1, from - 1), to);
    const faults: Array<{ seq: number; reason: UnauthenticatedReason }> = [];
    let prev: VaultAuditRecord | undefined;
    const hashes: string[] = [];
    for (const row of rows) {
      if (row.record.seq >= from) {
        const reason = this.recordFault(row, prev);
        if (reason) faults.push({ seq: row.record.seq, reason });
        hashes.push(row.record.recordHash);
      }
      prev = row.record;
    }
    if (faults.length > 0) {
      const sealed = (await this.tlog.latest(this.origin))?.size ?? 0;
      const foreign = faults.find((f) => f.seq > sealed);
      if (foreign) throw new UnauthenticatedEntryError(this.origin, foreign.seq, foreign.reason);
    }
    return hashes;
  }

  private refuse(seq: number, reason: UnauthenticatedReason): void {
    if (!this.refusals.of(this.origin)) {
      this.logger.error(
        { seq, reason },
        'Vault audit record without a valid store MAC past the last checkpoint: not sealed; the vault refuses access until an operator runs vault:seal-foreign',
      );
    }
    this.refusals.refuse(this.origin, { log: 'vault-audit', seq, reason });
  }

  /**
   * A log whose seal was refused takes no record (it would be committed and left unsealed), so
   * the vault refuses access until the store no longer holds the record: an operator's seal
   * (from another process: `vault:seal-foreign`), or the record repaired or removed. The whole
   * unsealed tail (up to every record past the last checkpoint) is checked again at most every
   * RECHECK_MS, or when the last checkpoint or the failing record (or the one before it) changed
   * since; otherwise the refusal is answered from what was checked, for two small reads
   * (review audittag2 #6: each refused request read up to 1,000 records).
   */
  private async refuseWhileUnauthenticated(): Promise<void> {
    if (!this.refusals.of(this.origin)) {
      this.checked = undefined;
      return;
    }
    const known = this.checked;
    if (
      known &&
      this.clock.now().getTime() - known.checkedAt < RECHECK_MS &&
      (await this.stillRefused(known))
    ) {
      throw unauthenticatedError();
    }
    this.rechecking ??= this.recheck().finally(() => {
      this.rechecking = undefined;
    });
    if (await this.rechecking) throw unauthenticatedError();
  }

  /** The whole unsealed tail checked again: the refusal kept (and remembered) or cleared. */
  private async recheck(): Promise<CheckedRefusal | undefined> {
    const checkedAt = this.clock.now().getTime();
    const sealed = (await this.tlog.latest(this.origin))?.size ?? 0;
    let foreign: { record: UnauthenticatedRecord; pair: () => string } | undefined;
    for await (const found of this.unsealedFaults(sealed)) {
      foreign = found;
      break;
    }
    if (!foreign) {
      this.refusals.clear(this.origin);
      this.checked = undefined;
      return undefined;
    }
    const { seq, fault } = foreign.record;
    this.refuse(seq, fault);
    // the pair the scan found failing, not one read after it (review of smallfix, LOW 2): a
    // record repaired meanwhile must not be remembered as the fault, which would answer 503
    // for up to RECHECK_MS after the repair
    this.checked = { seq, reason: fault, rows: foreign.pair(), sealed, checkedAt };
    return this.checked;
  }

  /** Whether the last checkpoint and the failing record (and the one before) are as checked. */
  private async stillRefused(known: CheckedRefusal): Promise<boolean> {
    const sealed = (await this.tlog.latest(this.origin))?.size ?? 0;
    return sealed === known.sealed && (await this.storedPair(known.seq)) === known.rows;
  }

  /** The record at `seq` and the one before it as stored (fields, hashes and tags), as text. */
  private async storedPair(seq: number): Promise<string> {
    const rows = await this.records.readTagged(Math.max(1, seq - 1), seq);
    return JSON.stringify(rows);
  }

  /** The chain a page at a time (the verifier yields to the event loop between pages). */
  private async *walk(after = 0, pageSize = VERIFY_PAGE): AsyncGenerator<VaultAuditRecord[]> {
    for (;;) {
      const page = await this.records.listInOrder({ afterSeq: after, limit: pageSize });
      if (page.length > 0) yield page;
      if (page.length < pageSize) return;
      after = page[page.length - 1].seq;
    }
  }
}

/** The seq and the operator's command stay in the logs and `/health`, not in a client's answer. */
function unauthenticatedError(): VaultError {
  return new VaultError(
    'audit_unavailable',
    'The vault audit log cannot be written, so the vault refuses access',
  );
}
