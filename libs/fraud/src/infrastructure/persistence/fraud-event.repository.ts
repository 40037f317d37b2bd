import { FraudEvent, FraudEventCriteria } from '../../domain/fraud-event';

/** The append-only fraud event log. */
export abstract class FraudEventRepository {
  /** Appends events (all or none). */
  abstract recordAll(events: FraudEvent[]): Promise<void>;
  /**
   * Events matching every given criterion, newest first in (at, id) order, at most `limit`;
   * with `before`, only events after that one in this order (keyset pagination).
   */
  abstract listRecent(criteria: FraudEventCriteria): Promise<FraudEvent[]>;
  /** Events naming one of these packets (at most `limit`, oldest first). */
  abstract listByPacketIds(packetIds: string[], limit: number): Promise<FraudEvent[]>;
}
