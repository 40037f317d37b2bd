import { FraudEvent, FraudEventType } from '../../../../domain/fraud-event';
import { FraudEventDocument } from '../schemas/fraud-event.schema';

export class FraudEventMongoMapper {
  static toDomain(doc: FraudEventDocument): FraudEvent {
    return {
      id: doc._id,
      type: doc.type as FraudEventType,
      deviceId: doc.deviceId ?? undefined,
      workerId: doc.workerId ?? undefined,
      siteId: doc.siteId ?? undefined,
      packetId: doc.packetId ?? undefined,
      detail: doc.detail,
      at: new Date(doc.at),
    };
  }

  static toPersistence(e: FraudEvent): FraudEventDocument {
    const { id, ...rest } = e;
    return { _id: id, ...rest };
  }
}
