import { PairingSession, SessionProtocol, SessionStatus } from '../../../../domain/pairing-session';

export interface PairingSessionRow {
  id: string;
  protocol: string;
  user_id: string | null;
  platform_id_sealed: string | null;
  platform_alias: string | null;
  status: string;
  device_id: string | null;
  image_file_id: string | null;
  result_status: string | null;
  result_status_code: number | null;
  result_latency_ms: number | null;
  outcome_sealed: string | null;
  created_at: string;
  expires_at: string;
  completed_at: string | null;
}

export class PairingSessionSqliteMapper {
  static toDomain(row: PairingSessionRow): PairingSession {
    return {
      id: row.id,
      protocol: row.protocol as SessionProtocol,
      userId: row.user_id ?? undefined,
      platformIdSealed: row.platform_id_sealed ?? undefined,
      platformAlias: row.platform_alias ?? undefined,
      status: row.status as SessionStatus,
      deviceId: row.device_id ?? undefined,
      imageFileId: row.image_file_id ?? undefined,
      result:
        row.result_status === null
          ? undefined
          : {
              status: row.result_status as 'success' | 'failure',
              statusCode: row.result_status_code ?? 0,
              latencyMs: row.result_latency_ms ?? 0,
            },
      outcomeSealed: row.outcome_sealed ?? undefined,
      createdAt: new Date(row.created_at),
      expiresAt: new Date(row.expires_at),
      completedAt: row.completed_at ? new Date(row.completed_at) : undefined,
    };
  }

  static toPersistence(session: PairingSession): PairingSessionRow {
    return {
      id: session.id,
      protocol: session.protocol,
      user_id: session.userId ?? null,
      platform_id_sealed: session.platformIdSealed ?? null,
      platform_alias: session.platformAlias ?? null,
      status: session.status,
      device_id: session.deviceId ?? null,
      image_file_id: session.imageFileId ?? null,
      result_status: session.result?.status ?? null,
      result_status_code: session.result?.statusCode ?? null,
      result_latency_ms: session.result?.latencyMs ?? null,
      outcome_sealed: session.outcomeSealed ?? null,
      created_at: session.createdAt.toISOString(),
      expires_at: session.expiresAt.toISOString(),
      completed_at: session.completedAt?.toISOString() ?? null,
    };
  }
}
