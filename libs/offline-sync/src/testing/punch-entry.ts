import { randomUUID } from 'node:crypto';
import type { PendingLogEntry } from '../domain/attendance-log';

/**
 * A punch as the ledger stores it, for specs and benchmarks that append straight to the
 * ledger (no phone, no HMAC: the signature is a placeholder the ledger does not check).
 */
export function punchEntry(p: {
  siteId: string;
  workerId: string;
  type: 'check_in' | 'check_out';
  timestamp: string;
  deviceId?: string;
  geo?: { lat: number; lng: number; accuracyM: number };
}): PendingLogEntry {
  const packetId = randomUUID();
  return {
    siteId: p.siteId,
    packetId,
    data: {
      packetId,
      workerId: p.workerId,
      siteId: p.siteId,
      deviceId: p.deviceId ?? 'd',
      type: p.type,
      timestamp: p.timestamp,
      geo: p.geo ?? { lat: 1, lng: 2, accuracyM: 5 },
      signature: '0'.repeat(64),
    },
    meta: { isOfflineSync: true, syncTimestamp: p.timestamp, deviceTrustScore: 60 },
  };
}

/**
 * An admin's timesheet correction as the ledger stores it (what CorrectionService appends),
 * for specs that append straight to the ledger. The target's record hash is a placeholder.
 */
export function correctionEntry(c: {
  siteId: string;
  workerId: string;
  targetSeq: number;
  action: 'void' | 'move' | 'add_check_out' | 'add_check_in';
  at?: string;
  reason: string;
  syncTimestamp: string;
}): PendingLogEntry {
  const packetId = randomUUID();
  return {
    siteId: c.siteId,
    packetId,
    data: {
      kind: 'timesheet_correction',
      packetId,
      siteId: c.siteId,
      workerId: c.workerId,
      action: c.action,
      target: { siteId: c.siteId, seq: c.targetSeq, recordHash: 'f'.repeat(64) },
      ...(c.at ? { at: c.at } : {}),
      reason: c.reason,
      by: { kind: 'admin', actor: 'admin:test' },
    },
    meta: { isOfflineSync: false, syncTimestamp: c.syncTimestamp },
  };
}
