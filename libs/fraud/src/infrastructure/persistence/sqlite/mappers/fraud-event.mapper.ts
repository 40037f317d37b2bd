import { FraudEvent, FraudEventType } from '../../../../domain/fraud-event';

export interface FraudEventRow {
  id: string;
  type: string;
  device_id: string | null;
  worker_id: string | null;
  site_id: string | null;
  packet_id: string | null;
  detail: string;
  at: string;
}

export class FraudEventSqliteMapper {
  static toDomain(row: FraudEventRow): FraudEvent {
    return {
      id: row.id,
      type: row.type as FraudEventType,
      deviceId: row.device_id ?? undefined,
      workerId: row.worker_id ?? undefined,
      siteId: row.site_id ?? undefined,
      packetId: row.packet_id ?? undefined,
      detail: row.detail,
      at: new Date(row.at),
    };
  }

  static toPersistence(e: FraudEvent): FraudEventRow {
    return {
      id: e.id,
      type: e.type,
      device_id: e.deviceId ?? null,
      worker_id: e.workerId ?? null,
      site_id: e.siteId ?? null,
      packet_id: e.packetId ?? null,
      detail: e.detail,
      at: e.at.toISOString(),
    };
  }
}
