import {
  KioskDevice,
  KioskEvent,
  KioskEventAction,
  KioskStatus,
} from '../../../../domain/kiosk-device';
import { KioskDeviceDocument, KioskEventDocument } from '../schemas/kiosk-device.schema';

export class KioskDeviceMongoMapper {
  static toDomain(doc: KioskDeviceDocument): KioskDevice {
    return {
      id: doc._id,
      deviceId: doc.deviceId,
      publicKeyPem: doc.publicKeyPem,
      keyFingerprint: doc.keyFingerprint,
      status: doc.status as KioskStatus,
      createdAt: new Date(doc.createdAt),
      updatedAt: new Date(doc.updatedAt),
    };
  }

  /** A new device document, born with its `registered` event. */
  static toPersistence(device: KioskDevice, event: KioskEventDocument): KioskDeviceDocument {
    return {
      _id: device.id,
      deviceId: device.deviceId,
      publicKeyPem: device.publicKeyPem,
      keyFingerprint: device.keyFingerprint,
      status: device.status,
      createdAt: device.createdAt,
      updatedAt: device.updatedAt,
      events: [event],
    };
  }

  static eventToDomain(doc: KioskEventDocument, deviceId: string): KioskEvent {
    return {
      id: doc._id,
      deviceId,
      action: doc.action as KioskEventAction,
      actor: doc.actor,
      reason: doc.reason ?? undefined,
      keyFingerprint: doc.keyFingerprint ?? undefined,
      previousKeyFingerprint: doc.previousKeyFingerprint ?? undefined,
      at: new Date(doc.at),
    };
  }

  static eventToPersistence(event: KioskEvent): KioskEventDocument {
    const { id, deviceId: _deviceId, ...rest } = event;
    return { _id: id, ...rest };
  }

  /** An event numbered `seq` with its tag (KioskSeal). */
  static numberedEvent(event: KioskEvent, seq: number, tag: string): KioskEventDocument {
    return { ...KioskDeviceMongoMapper.eventToPersistence(event), seq, tag };
  }
}
