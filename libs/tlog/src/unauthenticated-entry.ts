import { Injectable, Optional } from '@nestjs/common';
import { Gauge, MetricsRegistry } from '@app/common';

/** What a seal found wrong with an entry it did not append in hand. */
export type UnauthenticatedReason =
  /** no store MAC at all (written straight into the store, or from before MACs existed) */
  | 'untagged'
  /** tagged under a store-MAC key this server does not hold (dropped from STORE_MAC_RETIRED_KEYS, or newer than its own) */
  | 'retired_key'
  /** a tag under a key this server holds that does not verify (forged or edited) */
  | 'bad_tag'
  /**
   * the entry's stored texts do not hash to its stored recordHash (a genuine entry's hash and
   * tag copied onto other data): its owner hashes the entry again before trusting its tag
   */
  | 'record_hash_mismatch'
  /** its prevHash is not the recordHash of the entry before it (an entry moved or replayed) */
  | 'prev_hash_mismatch';

/**
 * An entry past a log's last checkpoint that does not carry a valid store MAC (`StoreMac`)
 * under the active key, or whose tag is a copy (its texts do not hash to the tagged recordHash,
 * or it does not chain to the entry before it): the server did not write it, so it signs no checkpoint over it. A seal
 * that meets one fails without a background retry (it would fail the same way) until an
 * operator seals the entries (`ledger:seal-foreign`, `vault:seal-foreign`).
 */
export class UnauthenticatedEntryError extends Error {
  /** Not tried again in the background by `TransparencyLogService`. */
  readonly retry = false;

  constructor(
    readonly origin: string,
    readonly seq: number,
    readonly reason: UnauthenticatedReason,
  ) {
    super(`entry ${seq} of ${origin} carries no valid store MAC (${reason})`);
  }
}

/** A log whose next seal was refused: its first entry without a valid store MAC. */
export interface SealRefusal {
  /** The owner's name of the log ('ledger' with its siteId, or 'vault-audit'). */
  log: 'ledger' | 'vault-audit';
  siteId?: string;
  seq: number;
  reason: UnauthenticatedReason;
}

/**
 * The logs of this process whose seal was refused (`UnauthenticatedEntryError`), until their
 * owner finds them sealed (an operator's `*:seal-foreign`): `/health` reports them (degraded),
 * and `mdai_tlog_unauthenticated_logs` counts them.
 */
@Injectable()
export class SealRefusals {
  private readonly refused = new Map<string, SealRefusal>();

  constructor(@Optional() metrics?: MetricsRegistry) {
    const refused = this.refused;
    new Gauge({
      name: 'mdai_tlog_unauthenticated_logs',
      help: 'Logs whose seal was refused: an entry past the last checkpoint carries no valid store MAC (written straight into the store, or tagged under a retired key); their appends answer 503 until an operator seals them',
      registers: metrics ? [metrics] : [],
      collect() {
        this.set(refused.size);
      },
    });
  }

  /** Records (or replaces) the refusal of the log `origin`. */
  refuse(origin: string, refusal: SealRefusal): void {
    this.refused.set(origin, refusal);
  }

  /** The refusal of `origin`, if its last seal was refused. */
  of(origin: string): SealRefusal | undefined {
    return this.refused.get(origin);
  }

  clear(origin: string): void {
    this.refused.delete(origin);
  }

  list(): SealRefusal[] {
    return [...this.refused.values()];
  }

  /** The refused logs by origin. */
  entries(): [string, SealRefusal][] {
    return [...this.refused.entries()];
  }
}

/**
 * An operator's seal (`ledger:seal-foreign`, `vault:seal-foreign`) refused at signing time: the
 * entries up to the seq the operator confirmed are not the ones that were listed (`head_changed`:
 * the entry there no longer has the recordHash the listing showed; `missing`: it is gone), or
 * one of them does not hash to its recordHash or does not chain to the entry before it (it is not
 * an entry that was written and then found without a MAC, but a damaged or rewritten one).
 */
export class ForeignSealRefusedError extends Error {
  /** Not tried again in the background by `TransparencyLogService`. */
  readonly retry = false;

  constructor(
    readonly seq: number,
    readonly reason: 'head_changed' | 'missing' | 'record_hash_mismatch' | 'prev_hash_mismatch',
  ) {
    super(`entry ${seq} is not the one listed (${reason})`);
  }
}
