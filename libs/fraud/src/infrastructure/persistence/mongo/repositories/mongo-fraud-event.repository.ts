import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { FraudEvent, FraudEventCriteria } from '../../../../domain/fraud-event';
import { FraudEventRepository } from '../../fraud-event.repository';
import { FraudEventMongoMapper as Mapper } from '../mappers/fraud-event.mapper';
import { FraudEventDocument, FraudEventSchema } from '../schemas/fraud-event.schema';

@Injectable()
export class MongoFraudEventRepository extends FraudEventRepository implements OnModuleInit {
  private readonly events: Model<FraudEventDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.events = store.connection.model(FraudEventDocument.name, FraudEventSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.events.init();
  }

  async recordAll(events: FraudEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.events.insertMany(events.map(Mapper.toPersistence), { ordered: true });
  }

  async listByPacketIds(packetIds: string[], limit: number): Promise<FraudEvent[]> {
    const docs = await this.events
      .find({ packetId: { $in: [...new Set(packetIds)] } })
      .sort({ at: 1, _id: 1 })
      .limit(limit)
      .lean<FraudEventDocument[]>();
    return docs.map(Mapper.toDomain);
  }

  async listRecent(criteria: FraudEventCriteria): Promise<FraudEvent[]> {
    const filter: Record<string, unknown> = {};
    if (criteria.type) filter.type = criteria.type;
    if (criteria.deviceId) filter.deviceId = criteria.deviceId;
    if (criteria.workerId) filter.workerId = criteria.workerId;
    if (criteria.siteId) filter.siteId = criteria.siteId;
    if (criteria.from || criteria.to) {
      filter.at = {
        ...(criteria.from ? { $gte: criteria.from } : {}),
        ...(criteria.to ? { $lte: criteria.to } : {}),
      };
    }
    if (criteria.before) {
      const { at, id } = criteria.before;
      filter.$and = [{ $or: [{ at: { $lt: at } }, { at, _id: { $lt: id } }] }];
    }
    const docs = await this.events
      .find(filter)
      .sort({ at: -1, _id: -1 })
      .limit(criteria.limit)
      .lean<FraudEventDocument[]>();
    return docs.map(Mapper.toDomain);
  }
}
