import { jcs } from '@app/common';
import { AttendanceLog, AttendanceMeta, LedgerEntryData } from '../../../../domain/attendance-log';
import { LedgerCheckpoint } from '../../../../domain/ledger-checkpoint';

export interface AttendanceLogRow {
  site_id: string;
  seq: number;
  packet_id: string;
  prev_hash: string;
  record_hash: string;
  /** JCS text of the hashed data: parsing it gives back exactly the hashed values. */
  data: string;
  meta: string;
}

export interface LedgerCheckpointRow {
  site_id: string;
  seq: number;
  head_hash: string;
  signed_at: string;
  kid: string;
  alg: string;
  signature: string;
}

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

  static toPersistence(log: AttendanceLog): AttendanceLogRow {
    return {
      site_id: log.siteId,
      seq: log.seq,
      packet_id: log.data.packetId,
      prev_hash: log.prevHash,
      record_hash: log.recordHash,
      data: jcs(log.data),
      meta: jcs(log.meta),
    };
  }

  static checkpointToDomain(row: LedgerCheckpointRow): LedgerCheckpoint {
    return {
      siteId: row.site_id,
      seq: row.seq,
      headHash: row.head_hash,
      signedAt: row.signed_at,
      kid: row.kid,
      alg: 'ES256',
      signature: row.signature,
    };
  }

  static checkpointToPersistence(c: LedgerCheckpoint): LedgerCheckpointRow {
    return {
      site_id: c.siteId,
      seq: c.seq,
      head_hash: c.headHash,
      signed_at: c.signedAt,
      kid: c.kid,
      alg: c.alg,
      signature: c.signature,
    };
  }
}
