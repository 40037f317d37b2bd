import { Module } from '@nestjs/common';
import { bindPort } from '@app/persistence';
import { KioskDeviceRepository } from './infrastructure/persistence/kiosk-device.repository';
import { kioskDeviceAdapters } from './infrastructure/persistence/kiosk-persistence';
import { KioskController } from './kiosk.controller';
import { KioskRegistryService } from './kiosk-registry.service';

/** Device identity and trust: kiosk keys (TrustZone) now; worker devices and scoring later. */
@Module({
  controllers: [KioskController],
  providers: [bindPort(KioskDeviceRepository, kioskDeviceAdapters), KioskRegistryService],
  exports: [KioskRegistryService],
})
export class DeviceTrustModule {}
