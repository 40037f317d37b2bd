import {
  WorkerDevice,
  WorkerDeviceEvent,
  WorkerDeviceEventAction,
} from '../../../../domain/worker-device';
import { PersonKind } from '@app/workforce';
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

  /** A new device document, born with its `registered` event. */
  static toPersistence(
    d: WorkerDevice,
    event: WorkerDeviceEvent,
    tags: { block?: string; event?: string } = {},
  ): WorkerDeviceDocument {
    const { id, blockIntegrity: _integrity, ...rest } = d;
    return {
      _id: id,
      ...rest,
      ...(tags.block ? { blockTag: tags.block, blockEventId: event.id } : {}),
      events: [WorkerDeviceMongoMapper.eventToPersistence(event, tags.event)],
    };
  }

  static eventToDomain(doc: WorkerDeviceEventDocument, deviceId: string): WorkerDeviceEvent {
    return {
      id: doc._id,
      deviceId,
      action: doc.action as WorkerDeviceEventAction,
      actor: doc.actor,
      reason: doc.reason ?? undefined,
      at: new Date(doc.at),
    };
  }

  static eventToPersistence(e: WorkerDeviceEvent, tag?: string): WorkerDeviceEventDocument {
    const { id, deviceId: _deviceId, integrity: _integrity, ...rest } = e;
    return { _id: id, ...rest, ...(tag ? { tag } : {}) };
  }
}
