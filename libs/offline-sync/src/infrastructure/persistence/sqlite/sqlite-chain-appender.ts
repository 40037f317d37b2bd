import type { Database, Statement } from 'better-sqlite3';
import { appendImmediate } from '@app/tlog/infrastructure/persistence/chain-append';
import { sha256Hex } from '@app/common/crypto/hashing';
import { HmacSha256Key } from '@app/common/crypto/hmac-sha256-key';
import {
  EMPTY_HEAD,
  entryKeyText,
  LedgerEntryKey,
  recordJcs,
} from '../../../domain/attendance-log';
import type { AttendanceLogRow } from './mappers/attendance-log.mapper';
import { KEY_COPIES_AGREE } from './sqlite-ledger.migrations';

/** One entry to append, as the texts that are hashed and stored (no parsed values). */
export interface AppendText {
  siteId: string;
  packetId: string;
  /** The entry's device (`ledgerDeviceOf`): with packetId, its key in the ledger. */
  deviceId: string;
  /** JCS of the entry's data and meta, stored as they are and hashed into the link. */
  dataJcs: string;
  metaJcs: string;
  /**
   * Appended only if the site's head is at this seq when the transaction reads it (a
   * conditional append, `appendAtHead`); otherwise `head_moved` and nothing is written.
   */
  headSeq?: number;
}

/**
 * The key a link's store MAC is made with (`StoreMac.keyFor('ledger-link')`) and its key id:
 * the tag is HMAC(key, recordHash), stored beside the link (`mac`, `mac_kid`).
 */
export interface LinkMacKey {
  key: Uint8Array;
  kid: string;
}

/** What became of one entry: its new place in the chain, or the row stored earlier under its key. */
export type AppendTextResult =
  | { status: 'appended'; seq: number; prevHash: string; recordHash: string }
  | { status: 'duplicate'; row: AttendanceLogRow }
  | { status: 'head_moved'; headSeq: number };

/**
 * An append call refused whole, nothing of it written (its transaction rolled back): an entry's
 * key was found on a link whose key columns are not the ones its data names (`seq` of `siteId`:
 * a key copy changed in the database). Answered as a duplicate, that entry would be dropped;
 * the call's other entries, committed, would never be screened nor projected (their retry is a
 * duplicate): none is kept until the link is restored.
 */
export interface KeyCopiesDisagree {
  status: 'key_copies_disagree';
  siteId: string;
  seq: number;
}

/** What one append call gives back: each entry's result in order, or the call's refusal. */
export type AppendTextResults = AppendTextResult[] | KeyCopiesDisagree;

/** A row found by its key, with whether its key columns are its data's (`KEY_COPIES_AGREE`). */
type KeyedRow = AttendanceLogRow & { key_agrees?: 0 | 1 | null };

/**
 * The links of a JSON array of [packetId, deviceId] keys (one seek of the unique index each):
 * the keys joined to the table, each with `key_agrees` (`KEY_COPIES_AGREE`: its columns are
 * the link's, json_each has none of those names).
 */
export const BY_KEYS_SQL = `SELECT l.*, ${KEY_COPIES_AGREE} AS key_agrees FROM json_each(?)
  JOIN attendance_logs l ON l.device_id = json_each.value ->> 1 AND l.packet_id = json_each.value ->> 0`;

/** Thrown inside the append's transaction (rolled back), caught outside it. */
class KeyCopiesDisagreeError extends Error {
  constructor(readonly refusal: KeyCopiesDisagree) {
    super('key copies disagree');
  }
}

/**
 * The ledger's SQLite append, written once for the two places it runs: the request's thread
 * and the append thread (`SqliteAppendThread`, its own connection to the same file). It works
 * on texts only, so what crosses between threads is small and needs no parsing.
 *
 * One `BEGIN IMMEDIATE` transaction per call (`appendImmediate`): it takes the write lock
 * before reading the heads, so no other connection (thread or process) can append between the
 * read and the writes. UNIQUE(device_id, packet_id) is the duplicate check (looked up once per
 * entry, by the insert itself; once a call meets a duplicate, its remaining keys are looked up
 * together first), and PRIMARY KEY(site_id, seq) backs the chain order up in the schema.
 * An entry with `headSeq` is appended only if the head the transaction reads is that one.
 */
export class SqliteChainAppender {
  private readonly insert: Statement;
  private readonly head: Statement<[string], { seq: number; record_hash: string }>;
  private readonly byKey: Statement<[string, string], KeyedRow>;
  private readonly byKeys: Statement<[string], KeyedRow>;

  /** The links' store MAC (`storeMacWith`'s tag): the key's pads set up once, not per link. */
  private readonly mac?: HmacSha256Key;
  private readonly macKid: string | null;

  /** `mac`: the key of the links' store MACs (none: links are stored untagged, tests only). */
  constructor(
    private readonly db: Database,
    mac?: LinkMacKey,
  ) {
    this.mac = mac && new HmacSha256Key(Buffer.from(mac.key));
    this.macKid = mac?.kid ?? null;
    this.insert = db.prepare(
      `INSERT INTO attendance_logs (site_id, seq, packet_id, device_id, prev_hash, record_hash, data, meta, mac, mac_kid)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (device_id, packet_id) DO NOTHING`,
    );
    this.head = db.prepare(
      'SELECT seq, record_hash FROM attendance_logs WHERE site_id = ? ORDER BY seq DESC LIMIT 1',
    );
    this.byKey = db.prepare(
      `SELECT *, ${KEY_COPIES_AGREE} AS key_agrees FROM attendance_logs WHERE device_id = ? AND packet_id = ?`,
    );
    this.byKeys = db.prepare(BY_KEYS_SQL);
  }

  /**
   * Appends `entries` in one transaction; an entry met as a duplicate of a link whose key columns
   * are not its data's refuses the call whole (`KeyCopiesDisagree`: rolled back, nothing written).
   */
  append(entries: AppendText[]): AppendTextResults {
    if (entries.length === 0) return [];
    try {
      return this.appendOrThrow(entries);
    } catch (error) {
      if (error instanceof KeyCopiesDisagreeError) return error.refusal;
      throw error;
    }
  }

  private appendOrThrow(entries: AppendText[]): AppendTextResult[] {
    return appendImmediate(this.db, (): AppendTextResult[] => {
      const heads = new Map<string, { seq: number; recordHash: string }>();
      // after the first duplicate of a call, the keys still ahead are looked up in one
      // statement: a batch sent again skips the hashing and the refused inserts
      let stored: Map<string, KeyedRow> | undefined;
      const results: AppendTextResult[] = [];
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i];
        const known = stored?.get(entryKeyText(entry));
        if (known) {
          results.push({ status: 'duplicate', row: confirmed(known) });
          continue;
        }
        let head = heads.get(entry.siteId);
        if (!head) {
          const row = this.head.get(entry.siteId);
          head = row ? { seq: row.seq, recordHash: row.record_hash } : EMPTY_HEAD;
        }
        if (entry.headSeq !== undefined && head.seq !== entry.headSeq) {
          // read inside the transaction that would insert: no other writer is between the
          // two. A stored key is still a duplicate (an interrupted append's own commit is
          // told apart by `appendAgain`)
          const row = this.byKey.get(entry.deviceId, entry.packetId);
          results.push(
            row
              ? { status: 'duplicate', row: confirmed(row) }
              : { status: 'head_moved', headSeq: head.seq },
          );
          continue;
        }
        const seq = head.seq + 1;
        const prevHash = head.recordHash;
        // the hashed texts named one by one: on Node 20 a spread followed by more members
        // (`{ ...entry, seq, prevHash }`) takes V8's slow path, ~4 µs a link: ~1.9 ms of the
        // append thread's CPU per 500-link batch, more than the 500 SHA-256s (~1 ms)
        const recordHash = sha256Hex(
          recordJcs(entry.siteId, seq, prevHash, entry.dataJcs, entry.metaJcs),
        );
        const { changes } = this.insert.run(
          entry.siteId,
          seq,
          entry.packetId,
          entry.deviceId,
          prevHash,
          recordHash,
          entry.dataJcs,
          entry.metaJcs,
          this.mac ? this.mac.base64url(recordHash) : null,
          this.macKid,
        );
        if (changes === 0) {
          // the key is stored already (earlier, or earlier in this call)
          stored ??= this.rowsOf(entries.slice(i + 1));
          results.push({
            status: 'duplicate',
            row: confirmed(this.byKey.get(entry.deviceId, entry.packetId)!),
          });
          continue;
        }
        heads.set(entry.siteId, { seq, recordHash });
        results.push({ status: 'appended', seq, prevHash, recordHash });
      }
      return results;
    });
  }

  /**
   * `append` after an append of the same entries was interrupted (the append thread stopped
   * under it): an entry stored with exactly these texts, data and meta, is that append's own
   * commit and is answered as appended (with the link it got), not as a duplicate. The meta
   * holds this sync's own server time and trust score, so no earlier sync stored the same.
   */
  appendAgain(entries: AppendText[]): AppendTextResults {
    const results = this.append(entries);
    if (!Array.isArray(results)) return results;
    return results.map((result, i) =>
      result.status === 'duplicate' &&
      result.row.data === entries[i].dataJcs &&
      result.row.meta === entries[i].metaJcs
        ? {
            status: 'appended',
            seq: result.row.seq,
            prevHash: result.row.prev_hash,
            recordHash: result.row.record_hash,
          }
        : result,
    );
  }

  /** The stored rows of these keys, by `entryKeyText`: one statement, one seek each. */
  rowsOf(keys: LedgerEntryKey[]): Map<string, KeyedRow> {
    if (keys.length === 0) return new Map();
    const unique = new Map(keys.map((k) => [entryKeyText(k), [k.packetId, k.deviceId]]));
    const rows = this.byKeys.all(JSON.stringify([...unique.values()]));
    return new Map(
      rows.map((row) => [entryKeyText({ deviceId: row.device_id, packetId: row.packet_id }), row]),
    );
  }
}

/**
 * A duplicate's row, if its key columns are its data's (`key_agrees`); else the append refuses
 * (thrown inside its transaction: rolled back).
 */
function confirmed(row: KeyedRow): AttendanceLogRow {
  if (row.key_agrees !== 1) {
    throw new KeyCopiesDisagreeError({
      status: 'key_copies_disagree',
      siteId: row.site_id,
      seq: row.seq,
    });
  }
  return row;
}
