import { jcs } from '@app/common';
import {
  AttendanceLog,
  AttendanceMeta,
  LedgerEntryData,
  ledgerDeviceOf,
  StoredLinkText,
} from '../../../../domain/attendance-log';
import type { TaggedLinkText } from '../../attendance-log.repository';

export interface AttendanceLogRow {
  site_id: string;
  seq: number;
  packet_id: string;
  /** The entry's device (`ledgerDeviceOf`): (device_id, packet_id) is its unique key. */
  device_id: string;
  prev_hash: string;
  record_hash: string;
  /** JCS text of the hashed data: parsing it gives back exactly the hashed values. */
  data: string;
  meta: string;
  /** The server's store MAC over record_hash ('ledger-link') and its key id; null: none. */
  mac?: string | null;
  mac_kid?: string | null;
}

/** The columns of a link's hashed text and its tag (`readTaggedTexts`). */
export type TaggedTextRow = Pick<
  AttendanceLogRow,
  'site_id' | 'seq' | 'prev_hash' | 'record_hash' | 'data' | 'meta' | 'mac' | 'mac_kid'
>;

/** site_id, seq, prev_hash, record_hash, data, meta: a row read in raw (array) mode. */
export type StoredTextColumns = [string, number, string, string, string, string];

export class AttendanceLogSqliteMapper {
  static toDomain(row: AttendanceLogRow): AttendanceLog {
    return {
      siteId: row.site_id,
      seq: row.seq,
      prevHash: row.prev_hash,
      recordHash: row.record_hash,
      data: JSON.parse(row.data) as LedgerEntryData,
      meta: JSON.parse(row.meta) as AttendanceMeta,
    };
  }

  static fromTextColumns([
    siteId,
    seq,
    prevHash,
    recordHash,
    dataJcs,
    metaJcs,
  ]: StoredTextColumns): StoredLinkText {
    return { siteId, seq, prevHash, recordHash, dataJcs, metaJcs };
  }

  /** A row's hashed texts as stored, and its tag. */
  static toTaggedText(row: TaggedTextRow): TaggedLinkText {
    return {
      siteId: row.site_id,
      seq: row.seq,
      prevHash: row.prev_hash,
      recordHash: row.record_hash,
      dataJcs: row.data,
      metaJcs: row.meta,
      mac: row.mac ?? null,
      kid: row.mac_kid ?? null,
    };
  }

  static toPersistence(log: AttendanceLog): AttendanceLogRow {
    return {
      site_id: log.siteId,
      seq: log.seq,
      packet_id: log.data.packetId,
      device_id: ledgerDeviceOf(log.data),
      prev_hash: log.prevHash,
      record_hash: log.recordHash,
      data: jcs(log.data),
      meta: jcs(log.meta),
    };
  }
}
