import { PairingSession, SessionProtocol, SessionStatus } from '../../../../domain/pairing-session';
import { PairingSessionDocument } from '../schemas/pairing-session.schema';

export class PairingSessionMongoMapper {
  static toDomain(doc: PairingSessionDocument): PairingSession {
    return {
      id: doc._id,
      protocol: doc.protocol as SessionProtocol,
      userId: doc.userId ?? undefined,
      platformIdSealed: doc.platformIdSealed ?? undefined,
      platformAlias: doc.platformAlias ?? undefined,
      status: doc.status as SessionStatus,
      deviceId: doc.deviceId ?? undefined,
      imageFileId: doc.imageFileId ?? undefined,
      result: doc.result
        ? {
            status: doc.result.status as 'success' | 'failure',
            statusCode: doc.result.statusCode,
            latencyMs: doc.result.latencyMs,
          }
        : undefined,
      outcomeSealed: doc.outcomeSealed ?? undefined,
      createdAt: new Date(doc.createdAt),
      expiresAt: new Date(doc.expiresAt),
      completedAt: doc.completedAt ? new Date(doc.completedAt) : undefined,
    };
  }

  static toPersistence(session: PairingSession): PairingSessionDocument {
    const { id, ...rest } = session;
    return { _id: id, ...rest };
  }
}
