import {
  WorkerDevice,
  WorkerDeviceEvent,
  WorkerDeviceEventAction,
} from '../../../../domain/worker-device';
import { PersonKind } from '../../../../domain/workforce';
import { WorkerDeviceDocument, WorkerDeviceEventDocument } from '../schemas/worker-device.schema';

export class WorkerDeviceMongoMapper {
  static toDomain(doc: WorkerDeviceDocument): WorkerDevice {
    return {
      id: doc._id,
      deviceId: doc.deviceId,
      user: { kind: doc.user.kind as PersonKind, id: doc.user.id },
      siteIds: [...doc.siteIds],
      fingerprint: {
        os: doc.fingerprint.os,
        model: doc.fingerprint.model,
        simHash: doc.fingerprint.simHash,
      },
      sealedSecret: doc.sealedSecret,
      trustScore: doc.trustScore,
      isBlocked: doc.isBlocked,
      lastSeen: doc.lastSeen ? new Date(doc.lastSeen) : undefined,
      lastIp: doc.lastIp ?? undefined,
      createdAt: new Date(doc.createdAt),
    };
  }

  static toPersistence(d: WorkerDevice): WorkerDeviceDocument {
    const { id, ...rest } = d;
    return { _id: id, ...rest };
  }

  static eventToDomain(doc: WorkerDeviceEventDocument): WorkerDeviceEvent {
    return {
      id: doc._id,
      deviceId: doc.deviceId,
      action: doc.action as WorkerDeviceEventAction,
      actor: doc.actor,
      reason: doc.reason ?? undefined,
      at: new Date(doc.at),
    };
  }

  static eventToPersistence(e: WorkerDeviceEvent): WorkerDeviceEventDocument {
    const { id, ...rest } = e;
    return { _id: id, ...rest };
  }
}
