// by their own files, not the libraries' indexes: the append thread loads this file alone
import { sha256Hex } from '@app/common/crypto/hashing';
import { jcs } from '@app/common/crypto/jcs';
import type { ChainHead } from '@app/tlog/domain/hash-chain';
import { AttendancePayload } from './attendance-packet';

export { EMPTY_HEAD, GENESIS_HASH } from '@app/tlog/domain/hash-chain';

/** What the ledger keeps of a packet: the payload as signed, and the device's signature. */
export interface AttendanceData extends AttendancePayload {
  signature: string;
}

/**
 * An entry that is not a device's packet (e.g. a timesheet correction): `kind` names it and
 * `packetId` is its id, unique among the entries no device made (`NO_DEVICE`). Values are JSON
 * (strings, integers, booleans, nested objects): it is hashed as JCS like a packet.
 */
export interface LedgerRecordData {
  kind: string;
  packetId: string;
  [field: string]: unknown;
}

/** What one link of a chain holds: a device's signed packet, or another kind of entry. */
export type LedgerEntryData = AttendanceData | LedgerRecordData;

/** A packet has no `kind`; every other entry kind says what it is. */
export function isPacketData(data: LedgerEntryData): data is AttendanceData {
  return !('kind' in data);
}

/** The device of the entries no device made (e.g. corrections): their packetIds share one space. */
export const NO_DEVICE = '';

/**
 * An entry's identity in the ledger: (deviceId, packetId). A packetId is unique per device, so
 * a packetId another device used first is not this device's packet (its own punch, judged on
 * its merits), and a packet sent again by its device is found as its duplicate.
 */
export interface LedgerEntryKey {
  /** The packet's device; `NO_DEVICE` for an entry no device made. */
  deviceId: string;
  packetId: string;
}

/** The device an entry belongs to: a packet's `deviceId`, else `NO_DEVICE`. */
export function ledgerDeviceOf(data: LedgerEntryData): string {
  return isPacketData(data) ? data.deviceId : NO_DEVICE;
}

/** `key` as one string (a map key): the two parts cannot run into each other. */
export function entryKeyText(key: LedgerEntryKey): string {
  return `${key.deviceId}\u0000${key.packetId}`;
}

export interface AttendanceMeta {
  isOfflineSync: boolean;
  /** ISO-8601: dates inside hashed values are strings, so they are read back exactly as hashed. */
  syncTimestamp: string;
  /** The score of the device that made the entry (absent on entries no device made, e.g. an admin's correction). */
  deviceTrustScore?: number;
  /** Present (true) only when the syncing request scored below TRUST_LOW_THRESHOLD. */
  lowTrust?: boolean;
}

/** One immutable link of a site's chain. */
export interface AttendanceLog {
  siteId: string;
  seq: number;
  prevHash: string;
  recordHash: string;
  data: LedgerEntryData;
  meta: AttendanceMeta;
}

/** A packet accepted by sync, waiting for its place in its site's chain. */
export interface PendingLogEntry {
  siteId: string;
  packetId: string;
  data: LedgerEntryData;
  meta: AttendanceMeta;
  /**
   * `jcs(data)`, when the caller already has it (sync builds it from the JCS text it checked
   * the HMAC over): the payload is then serialized once per packet, not once per use.
   */
  dataJcs?: string;
}

/** A new link with the JCS texts its recordHash was computed from (stored as they are). */
export interface CanonicalLink {
  log: AttendanceLog;
  dataJcs: string;
  metaJcs: string;
}

/**
 * A stored link as the JCS texts of its data and meta, as the store holds them: what
 * verification hashes. A text that is not exactly what was hashed at append time (edited, or
 * rewritten in another JSON form) no longer matches its recordHash.
 */
export interface StoredLinkText {
  siteId: string;
  seq: number;
  prevHash: string;
  recordHash: string;
  dataJcs: string;
  metaJcs: string;
}

/** The recordHash of a link from its texts, stored or about to be (no parse, no second serialization). */
export function recordHashOfText(link: Omit<StoredLinkText, 'recordHash'>): string {
  return sha256Hex(recordJcs(link.siteId, link.seq, link.prevHash, link.dataJcs, link.metaJcs));
}

/** recordHash = SHA-256 hex of JCS({siteId, seq, prevHash, data, meta}). */
export function computeRecordHash(
  link: Pick<AttendanceLog, 'siteId' | 'seq' | 'prevHash' | 'data' | 'meta'>,
): string {
  return sha256Hex(recordJcs(link.siteId, link.seq, link.prevHash, jcs(link.data), jcs(link.meta)));
}

/**
 * JCS({siteId, seq, prevHash, data, meta}) from the JCS texts of data and meta: the members
 * in JCS order (data, meta, prevHash, seq, siteId), each value in its JCS form.
 */
export function recordJcs(
  siteId: string,
  seq: number,
  prevHash: string,
  dataJcs: string,
  metaJcs: string,
): string {
  return `{"data":${dataJcs},"meta":${metaJcs},"prevHash":${jcs(prevHash)},"seq":${jcs(seq)},"siteId":${jcs(siteId)}}`;
}

/** The next link after `head` (seq 0 and GENESIS_HASH for an empty chain). */
export function linkAfter(head: ChainHead, entry: PendingLogEntry): AttendanceLog {
  return canonicalLinkAfter(head, entry).log;
}

/**
 * `linkAfter`, keeping the JCS texts of data and meta it hashed. `metaJcs`, when given, must be
 * `jcs(entry.meta)` (an append of many entries with equal meta serializes it once).
 */
export function canonicalLinkAfter(
  head: ChainHead,
  entry: PendingLogEntry,
  metaJcs = jcs(entry.meta),
): CanonicalLink {
  const seq = head.seq + 1;
  const dataJcs = entry.dataJcs ?? jcs(entry.data);
  const recordHash = sha256Hex(recordJcs(entry.siteId, seq, head.recordHash, dataJcs, metaJcs));
  return {
    log: {
      siteId: entry.siteId,
      seq,
      prevHash: head.recordHash,
      recordHash,
      data: entry.data,
      meta: entry.meta,
    },
    dataJcs,
    metaJcs,
  };
}

/**
 * `jcs(meta)` for each meta of one append, serialized again only when a meta differs from the
 * previous one in a member (the entries of a batch carry copies of one meta). Members are
 * compared with `===`: equal primitives have one JCS text, and a nested value is reused only
 * when it is the same object.
 */
export function metaJcsOfEach(): (meta: AttendanceMeta) => string {
  let last: AttendanceMeta | undefined;
  let text = '';
  return (meta) => {
    if (last === undefined || !sameMembers(meta, last)) {
      text = jcs(meta);
      last = meta;
    }
    return text;
  };
}

function sameMembers(a: object, b: object): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(b, key)) return false;
    if ((a as Record<string, unknown>)[key] !== (b as Record<string, unknown>)[key]) return false;
  }
  return true;
}
