import { ChallengeStatus, WifiChallenge } from '../../../../domain/wifi-challenge';
import { WifiChallengeDocument } from '../schemas/wifi-challenge.schema';

export class WifiChallengeMongoMapper {
  static toDomain(doc: WifiChallengeDocument): WifiChallenge {
    return {
      id: doc._id,
      deviceId: doc.deviceId,
      challenge: doc.challenge,
      answerHash: toBuffer(doc.answerHash),
      wifiSsid: doc.wifiSsid,
      wifiPasswordSealed: doc.wifiPasswordSealed,
      status: doc.status as ChallengeStatus,
      wrongAttempts: doc.wrongAttempts,
      createdBy: doc.createdBy,
      ...(doc.keyFingerprint ? { keyFingerprint: doc.keyFingerprint } : {}),
      ...(doc.kioskChangedAt ? { kioskChangedAt: new Date(doc.kioskChangedAt) } : {}),
      createdAt: new Date(doc.createdAt),
      expiresAt: new Date(doc.expiresAt),
      usedAt: doc.usedAt ? new Date(doc.usedAt) : undefined,
      ...(doc.tag ? { tag: doc.tag } : {}),
    };
  }

  static toPersistence(challenge: WifiChallenge): WifiChallengeDocument {
    const { id, ...rest } = challenge;
    return { _id: id, ...rest };
  }
}

/** `.lean()` returns BSON Binary for Buffer fields. */
function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  const binary = value as { buffer?: Uint8Array; value?: () => Uint8Array };
  if (binary.buffer instanceof Uint8Array) return Buffer.from(binary.buffer);
  return Buffer.from(binary.value ? binary.value() : []);
}
