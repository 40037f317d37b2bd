import { AttendanceData, AttendanceLog, AttendanceMeta } from '../../../../domain/attendance-log';
import { AttendanceLogDocument } from '../schemas/attendance-log.schema';

export class AttendanceLogMongoMapper {
  static toDomain(doc: AttendanceLogDocument): AttendanceLog {
    return {
      siteId: doc.siteId,
      seq: doc.seq,
      prevHash: doc.prevHash,
      recordHash: doc.recordHash,
      data: doc.data as unknown as AttendanceData,
      meta: doc.meta as unknown as AttendanceMeta,
    };
  }

  static toPersistence(log: AttendanceLog): AttendanceLogDocument {
    return {
      siteId: log.siteId,
      seq: log.seq,
      packetId: log.data.packetId,
      prevHash: log.prevHash,
      recordHash: log.recordHash,
      data: { ...log.data, geo: { ...log.data.geo } },
      meta: { ...log.meta },
      workerId: log.data.workerId,
      deviceId: log.data.deviceId,
      at: new Date(log.data.timestamp),
    };
  }
}
