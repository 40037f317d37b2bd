import { jcs, sha256Hex } from '@app/common';
import { ChainHead } from '@app/tlog';
import { AttendancePayload } from './attendance-packet';

export { EMPTY_HEAD, GENESIS_HASH } from '@app/tlog';

/** What the ledger keeps of a packet: the payload as signed, and the device's signature. */
export interface AttendanceData extends AttendancePayload {
  signature: string;
}

/**
 * An entry that is not a device's packet (e.g. a timesheet correction): `kind` names it and
 * `packetId` is its unique id (the ledger's dedupe key for every entry). Values are JSON
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
}

/** recordHash = SHA-256 hex of JCS({siteId, seq, prevHash, data, meta}). */
export function computeRecordHash(
  link: Pick<AttendanceLog, 'siteId' | 'seq' | 'prevHash' | 'data' | 'meta'>,
): string {
  return sha256Hex(
    jcs({
      siteId: link.siteId,
      seq: link.seq,
      prevHash: link.prevHash,
      data: link.data,
      meta: link.meta,
    }),
  );
}

/** The next link after `head` (seq 0 and GENESIS_HASH for an empty chain). */
export function linkAfter(head: ChainHead, entry: PendingLogEntry): AttendanceLog {
  const link = {
    siteId: entry.siteId,
    seq: head.seq + 1,
    prevHash: head.recordHash,
    data: entry.data,
    meta: entry.meta,
  };
  return { ...link, recordHash: computeRecordHash(link) };
}
