import { ChallengeStatus, WifiChallenge } from '../../../../domain/wifi-challenge';

export interface WifiChallengeRow {
  id: string;
  device_id: string;
  challenge: string;
  answer_hash: Buffer;
  wifi_ssid: string;
  wifi_password_sealed: string;
  status: string;
  wrong_attempts: number;
  created_by: string;
  key_fingerprint: string | null;
  kiosk_changed_at: string | null;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  tag: string | null;
}

export class WifiChallengeSqliteMapper {
  static toDomain(row: WifiChallengeRow): WifiChallenge {
    return {
      id: row.id,
      deviceId: row.device_id,
      challenge: row.challenge,
      answerHash: Buffer.from(row.answer_hash),
      wifiSsid: row.wifi_ssid,
      wifiPasswordSealed: row.wifi_password_sealed,
      status: row.status as ChallengeStatus,
      wrongAttempts: row.wrong_attempts,
      createdBy: row.created_by,
      ...(row.key_fingerprint ? { keyFingerprint: row.key_fingerprint } : {}),
      ...(row.kiosk_changed_at ? { kioskChangedAt: new Date(row.kiosk_changed_at) } : {}),
      createdAt: new Date(row.created_at),
      expiresAt: new Date(row.expires_at),
      usedAt: row.used_at ? new Date(row.used_at) : undefined,
      ...(row.tag ? { tag: row.tag } : {}),
    };
  }

  static toPersistence(challenge: WifiChallenge): WifiChallengeRow {
    return {
      id: challenge.id,
      device_id: challenge.deviceId,
      challenge: challenge.challenge,
      answer_hash: challenge.answerHash,
      wifi_ssid: challenge.wifiSsid,
      wifi_password_sealed: challenge.wifiPasswordSealed,
      status: challenge.status,
      wrong_attempts: challenge.wrongAttempts,
      created_by: challenge.createdBy,
      key_fingerprint: challenge.keyFingerprint ?? null,
      kiosk_changed_at: challenge.kioskChangedAt?.toISOString() ?? null,
      created_at: challenge.createdAt.toISOString(),
      expires_at: challenge.expiresAt.toISOString(),
      used_at: challenge.usedAt?.toISOString() ?? null,
      tag: challenge.tag ?? null,
    };
  }
}
