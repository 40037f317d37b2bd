import {
  AttendanceLog,
  AttendanceMeta,
  isPacketData,
  LedgerEntryData,
} from '../../../../domain/attendance-log';
import { AttendanceLogDocument } from '../schemas/attendance-log.schema';

export class AttendanceLogMongoMapper {
  static toDomain(doc: AttendanceLogDocument): AttendanceLog {
    return {
      siteId: doc.siteId,
      seq: doc.seq,
      prevHash: doc.prevHash,
      recordHash: doc.recordHash,
      data: doc.data as unknown as LedgerEntryData,
      meta: doc.meta as unknown as AttendanceMeta,
    };
  }

  static toPersistence(log: AttendanceLog): AttendanceLogDocument {
    // only packets feed the fraud rules' worker and device history
    const packet = isPacketData(log.data) ? log.data : undefined;
    return {
      siteId: log.siteId,
      seq: log.seq,
      packetId: log.data.packetId,
      prevHash: log.prevHash,
      recordHash: log.recordHash,
      data: structuredClone(log.data) as Record<string, unknown>,
      meta: { ...log.meta },
      workerId: packet?.workerId,
      deviceId: packet?.deviceId,
      at: packet ? new Date(packet.timestamp) : undefined,
    };
  }
}
